/** Server-to-client messages of PROTOCOL.md. */
import type { PresenceView, Transition } from '#domain/agent.ts';
import type { PresenceChanged } from '#app/ports.ts';

/** One committed change of a user's effective status. */
export interface PresenceChange {
  userId: string;
  name: string;
  teams: string[];
  status: Transition['status'];
  previous: Transition['previous'];
  reason: Transition['reason'];
  at: number;
  /** The user's version after this change: a client drops a change not newer than what it holds. */
  version: number;
  /** On a change to away with a reason: its id. */
  awayReason?: string;
  /** The admin who made the change; absent when the user or the service did. */
  by?: string;
}

/** The changes of one delivery batch that a connection subscribes to, in order per user. */
export interface PresenceMessage {
  type: 'presence';
  changes: PresenceChange[];
}

/**
 * One part of a snapshot. A snapshot of any size arrives as `parts` messages with the same `id`,
 * numbered `part` 1..parts, each under API Gateway's 128 KB limit; `users` are in userId order
 * across the parts. `scope` is what it covers: team ids, or null for the whole workspace.
 */
export interface SnapshotMessage {
  type: 'snapshot';
  id: string;
  part: number;
  parts: number;
  at: number;
  scope: string[] | null;
  /** Each with the user's version when read: a change with a version up to it is already in. */
  users: Array<PresenceView & { version: number }>;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export interface LoggedOutMessage {
  type: 'loggedOut';
  at: number;
  /** The admin who signed the user out; absent when the user did. */
  by?: string;
}

export type ServerMessage = PresenceMessage | SnapshotMessage | ErrorMessage | LoggedOutMessage;

export function presenceChange(transition: Transition): PresenceChange {
  return {
    userId: transition.userId,
    name: transition.name,
    teams: transition.teams,
    status: transition.status,
    previous: transition.previous,
    reason: transition.reason,
    at: transition.at,
    version: transition.version,
    ...attribution(transition),
  };
}

/** The optional fields of a change: its away reason and the admin who made it. */
function attribution(transition: Transition): { awayReason?: string; by?: string } {
  return {
    ...(transition.awayReason !== undefined ? { awayReason: transition.awayReason } : {}),
    ...(transition.by !== undefined ? { by: transition.by } : {}),
  };
}

export function presenceMessage(transitions: Transition[]): PresenceMessage {
  return { type: 'presence', changes: transitions.map(presenceChange) };
}

export function presenceChanged(transition: Transition): PresenceChanged {
  return {
    workspaceId: transition.workspaceId,
    userId: transition.userId,
    status: transition.status,
    previous: transition.previous,
    reason: transition.reason,
    at: transition.at,
    ...attribution(transition),
  };
}

/** What a connection is told when its token has ended, before it is closed. */
export function tokenExpiredMessage(): ErrorMessage {
  return { type: 'error', code: 'token_expired', message: 'the token this connection was opened with has expired; connect again with a fresh one' };
}
