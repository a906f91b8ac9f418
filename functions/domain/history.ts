/**
 * Status history: each committed transition as it is kept for the timeline and the reports, and
 * who caused it.
 */
import type { Reason, Status, Transition } from '#domain/presence.ts';

/** One committed transition of one user, as recorded. */
export interface HistoryEntry {
  userId: string;
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  /** The user's version the transition made: unique per user, so a retried batch rewrites the same entry. */
  version: number;
  /** Who caused it: a user id (the agent; an admin's later), or null for the service itself (a lease or idle deadline). */
  by: string | null;
}

/** The service decides `timeout` and `idle` at their deadlines; every other reason is the agent's own doing. */
function causeOf(change: Pick<Transition, 'userId' | 'reason'>): string | null {
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
  };
}
