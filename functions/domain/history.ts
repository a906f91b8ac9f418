/**
 * Status history: each committed transition as it is kept for the timeline and the reports, and
 * who caused it.
 */
import type { Reason, Status, Transition } from '#domain/agent.ts';

/** One committed transition of one user, as recorded. */
export interface HistoryEntry {
  userId: string;
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  /** The user's version the transition made: unique per user, so a retried batch rewrites the same entry. */
  version: number;
  /** Who caused it: a user id (the agent, or the admin who acted), or null for the service itself (a lease or idle deadline). */
  by: string | null;
  /** On a change to away with a reason: its id. */
  awayReason?: string;
}

/** An admin's change names the admin; the service decides `timeout` and `idle` at their deadlines; anything else is the agent's own doing. */
function causeOf(change: Pick<Transition, 'userId' | 'reason' | 'by'>): string | null {
  if (change.by !== undefined) return change.by;
  return change.reason === 'timeout' || change.reason === 'idle' ? null : change.userId;
}

export function historyEntryOf(change: Transition): HistoryEntry {
  return {
    userId: change.userId,
    status: change.status,
    previous: change.previous,
    reason: change.reason,
    at: change.at,
    version: change.version,
    by: causeOf(change),
    ...(change.awayReason !== undefined ? { awayReason: change.awayReason } : {}),
  };
}
