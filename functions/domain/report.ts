/**
 * Time in each status per user and calendar day in the workspace's zone: the daily rollup a
 * transition updates, and the report row a day's rollup (or its absence) makes. Pure: instants in,
 * seconds out; DST days are 23 or 25 hours because days are bounded by local midnights.
 */
import type { Status } from '#domain/presence.ts';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    // en-CA writes dates as YYYY-MM-DD.
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The calendar date (YYYY-MM-DD) of an instant in a zone. */
export function localDate(at: number, timeZone: string): string {
  return formatter(timeZone).format(at);
}

/** The date after `date` (YYYY-MM-DD, proleptic Gregorian). */
export function nextDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** The first instant whose local date in the zone is `date` (its midnight, or the first instant after a skipped one). */
export function dayStart(date: string, timeZone: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  // Every zone's offset is within ±15 h of UTC: the boundary lies in this window.
  let low = Date.UTC(y, m - 1, d) - 15 * 3_600_000;
  let high = Date.UTC(y, m - 1, d) + 15 * 3_600_000;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (localDate(middle, timeZone) < date) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Milliseconds per status: what a day's closed intervals add up to. */
export type StatusMs = Record<Status, number>;

/** A user's day: time of the intervals closed within it, and the status from its last transition on. */
export interface DayRollup {
  date: string;
  ms: StatusMs;
  /** The instant and status of the last transition applied to this day, and its version. */
  lastAt: number;
  lastStatus: Status;
  lastVersion: number;
}

export interface RollupTransition {
  at: number;
  previous: Status;
  status: Status;
  version: number;
}

/**
 * The day's rollup after one transition within it, or undefined when the rollup already holds it
 * (a retried batch). The first transition of a day closes the time since its midnight in the status
 * before it; a later one closes the time since the day's previous transition.
 */
export function applyToDay(day: DayRollup | undefined, date: string, start: number, change: RollupTransition): DayRollup | undefined {
  if (day && day.lastVersion >= change.version) return undefined;
  const ms: StatusMs = day ? { ...day.ms } : { online: 0, away: 0, offline: 0 };
  if (day) ms[day.lastStatus] += Math.max(0, change.at - day.lastAt);
  else ms[change.previous] += Math.max(0, change.at - start);
  return { date, ms, lastAt: change.at, lastStatus: change.status, lastVersion: change.version };
}

/** Whole seconds per status that add up to exactly `totalSeconds` (largest remainders get the rounding). */
export function wholeSeconds(ms: StatusMs, totalSeconds: number): Record<Status, number> {
  const statuses: Status[] = ['online', 'away', 'offline'];
  const exact = statuses.map((status) => Math.max(0, ms[status]) / 1000);
  const sum = exact.reduce((a, b) => a + b, 0);
  // Scale to the total (the parts differ from it by rounding of instants only).
  const scaled = exact.map((value) => (sum > 0 ? (value * totalSeconds) / sum : 0));
  const floors = scaled.map(Math.floor);
  let left = totalSeconds - floors.reduce((a, b) => a + b, 0);
  const order = scaled.map((value, index) => ({ index, rest: value - floors[index]! })).sort((a, b) => b.rest - a.rest || a.index - b.index);
  for (const { index } of order) {
    if (left <= 0) break;
    floors[index]!++;
    left--;
  }
  return { online: floors[0]!, away: floors[1]!, offline: floors[2]! };
}

/**
 * Milliseconds per status of one day, up to `until` (the day's end, or now for today): the
 * rollup's closed time plus the time since its last transition in that status, or, for a day
 * without transitions, the whole time in the status in force (`carried`).
 */
export function dayMs(day: DayRollup | undefined, start: number, until: number, carried: Status): StatusMs {
  const ms: StatusMs = { online: 0, away: 0, offline: 0 };
  if (until <= start) return ms;
  if (!day) {
    ms[carried] = until - start;
    return ms;
  }
  for (const status of ['online', 'away', 'offline'] as const) ms[status] = day.ms[status];
  ms[day.lastStatus] += Math.max(0, until - day.lastAt);
  return ms;
}

/**
 * Milliseconds per status of each date, replayed from transitions (oldest first) and the status
 * in force before the first: the exact path when rollups cannot be used (kept in another zone).
 */
export function replayDays(initial: Status, changes: ReadonlyArray<{ at: number; status: Status }>, dates: readonly string[], timeZone: string, now: number): Array<{ date: string; start: number; until: number; ms: StatusMs }> {
  const result: Array<{ date: string; start: number; until: number; ms: StatusMs }> = [];
  let status = initial;
  let next = 0;
  for (const date of dates) {
    const start = dayStart(date, timeZone);
    const until = Math.min(dayStart(nextDate(date), timeZone), now);
    const ms: StatusMs = { online: 0, away: 0, offline: 0 };
    // Transitions before this day (in a gap between dates) only set the status carried in.
    while (next < changes.length && changes[next]!.at <= start) status = changes[next++]!.status;
    let since = start;
    while (next < changes.length && changes[next]!.at < until) {
      ms[status] += changes[next]!.at - since;
      since = changes[next]!.at;
      status = changes[next++]!.status;
    }
    if (until > since) ms[status] += until - since;
    result.push({ date, start, until, ms });
  }
  return result;
}
