/**
 * The wire format of PROTOCOL.md as the client sees it. Kept free of server imports so the
 * client bundles alone for browsers; the end-to-end tests hold both sides to the same messages.
 */
/** The ids the server accepts: 1 to 128 of A-Z a-z 0-9 _ . @ : - (test/unit/client-protocol.test.ts holds it to the server's). */
export const ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;
/** The most teams one subscription follows. */
export const MAX_TEAMS = 50;

export type Status = 'online' | 'away' | 'offline';
export type ChosenStatus = 'online' | 'away';
/** Why a status changed; `admin`: an admin of the workspace set it (the change's `by`). */
export type Reason = 'connect' | 'active' | 'manual' | 'disconnect' | 'timeout' | 'idle' | 'logout' | 'admin';

export interface RosterEntry {
  userId: string;
  name: string;
  teams: string[];
  status: Status;
  /** When the status last changed (ms). */
  since: number;
  /** The last activity the server recorded (ms). */
  lastActiveAt: number;
  /** The user's version this entry reflects: a change with a version up to it is already in. */
  version: number;
  /** While away with a reason: its id (one of the workspace's away reasons). */
  awayReason?: string;
  /** The admin who set the current status (or signed the user out); absent when the user or the service did. */
  by?: string;
}

/** One change of a user's effective status, with the user's version after it. */
export interface PresenceChange {
  userId: string;
  name: string;
  teams: string[];
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  version: number;
  /** On a change to away with a reason: its id. A change of only the reason is away -> away. */
  awayReason?: string;
  /** The admin who made the change (reason `admin`, or `logout` when an admin signed the user out); absent when the user or the service did. */
  by?: string;
}

/** One delivery's changes that this connection subscribes to, in order per user. */
export interface PresenceMessage {
  type: 'presence';
  changes: PresenceChange[];
}

/** The client's `presence` event: one change it applied to its roster. */
export interface PresenceEvent extends PresenceChange {
  type: 'presence';
}

/**
 * One part of a snapshot: `parts` messages share an `id` and are numbered `part` 1..parts; the
 * roster is the users of all of them. `scope`: the subscribed team ids, or null (whole workspace).
 */
export interface SnapshotMessage {
  type: 'snapshot';
  id: string;
  part: number;
  parts: number;
  at: number;
  scope: string[] | null;
  users: RosterEntry[];
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export interface LoggedOutMessage {
  type: 'loggedOut';
  at: number;
  /** The admin who signed the user out; absent when the user logged out (on any device). */
  by?: string;
}

export type ServerMessage = PresenceMessage | SnapshotMessage | ErrorMessage | LoggedOutMessage;

/** Parses a frame; anything that is not a known message is ignored by the caller. */
export function parseServerMessage(data: unknown): ServerMessage | undefined {
  const text = typeof data === 'string' ? data : data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  if (type === 'presence') return Array.isArray((value as { changes?: unknown }).changes) ? (value as PresenceMessage) : undefined;
  return type === 'snapshot' || type === 'error' || type === 'loggedOut' ? (value as ServerMessage) : undefined;
}
