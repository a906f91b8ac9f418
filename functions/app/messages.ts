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

export interface SnapshotMessage {
  type: 'snapshot';
  at: number;
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
