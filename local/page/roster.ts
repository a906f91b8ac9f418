/**
 * The roster as the team page shows it: the client SDK's roster, each entry with the reason of
 * its last status change when a `presence` message told us (a snapshot does not), in display order.
 */
import type { PresenceEvent, Reason, Roster, RosterEntry, Status } from '../../client/src/index.ts';

export interface PageEntry extends Readonly<RosterEntry> {
  /** Why the status last changed, when the page heard the `presence` message that changed it. */
  readonly reason: Reason | null;
}

/** The last `presence` message the page heard about each user. */
export interface HeardPresence {
  status: Status;
  reason: Reason;
  at: number;
}

/** Records a `presence` event of the client (it only emits the ones it applied to its roster). */
export function hear(heard: Map<string, HeardPresence>, event: PresenceEvent): void {
  heard.set(event.userId, { status: event.status, reason: event.reason, at: event.at });
}

/**
 * The roster with reasons. A reason belongs to an entry only when the entry still holds that very
 * change: same status, same time. The server's `since` is the `at` of the message that published
 * the change, so a snapshot agreeing with what we heard keeps the reason, and a snapshot bringing
 * a change we missed (while reconnecting) shows none rather than an old one.
 */
export function withReasons(roster: Roster, heard: ReadonlyMap<string, HeardPresence>): Map<string, PageEntry> {
  const entries = new Map<string, PageEntry>();
  for (const [userId, entry] of roster) {
    const last = heard.get(userId);
    const reason = last && last.status === entry.status && last.at === entry.since ? last.reason : null;
    entries.set(userId, { ...entry, reason });
  }
  return entries;
}

const STATUS_RANK: Record<Status, number> = { online: 0, away: 1, offline: 2 };

/** Online first, then away, then offline; by name within each, user id breaking ties. */
export function sortRoster<T extends Pick<RosterEntry, 'userId' | 'name' | 'status'>>(entries: Iterable<T>): T[] {
  return [...entries].sort(
    (a, b) =>
      STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
      a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) ||
      (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
}
