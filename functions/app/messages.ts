/** Server-to-client messages of PROTOCOL.md. */
import type { PresenceView, Transition } from '#domain/presence.ts';
import type { PresenceChanged } from '#app/ports.ts';

export interface PresenceMessage {
  type: 'presence';
  userId: string;
  name: string;
  teams: string[];
  status: Transition['status'];
  previous: Transition['previous'];
  reason: Transition['reason'];
  at: number;
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
  users: PresenceView[];
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

export interface LoggedOutMessage {
  type: 'loggedOut';
  at: number;
}

export type ServerMessage = PresenceMessage | SnapshotMessage | ErrorMessage | LoggedOutMessage;

export function presenceMessage(transition: Transition): PresenceMessage {
  return {
    type: 'presence',
    userId: transition.userId,
    name: transition.name,
    teams: transition.teams,
    status: transition.status,
    previous: transition.previous,
    reason: transition.reason,
    at: transition.at,
  };
}

export function presenceChanged(transition: Transition): PresenceChanged {
  return {
    workspaceId: transition.workspaceId,
    userId: transition.userId,
    status: transition.status,
    previous: transition.previous,
    reason: transition.reason,
    at: transition.at,
  };
}
