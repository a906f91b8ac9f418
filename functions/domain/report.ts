/**
 * Time in each status per user and calendar day in the workspace's zone: the daily rollup a
 * transition updates, and the report row a day's rollup (or its absence) makes. Pure: instants in,
 * seconds out; DST days are 23 or 25 hours because days are bounded by local midnights.
 */
import type { Status } from '#domain/agent.ts';

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

/** The key of away time with no reason, among the away reason ids. */
export const NO_REASON = '';

/** Milliseconds away per away reason id (NO_REASON for none): they add up to the away time. */
export type ReasonMs = Record<string, number>;

/** A user's day: time of the intervals closed within it, and the status from its last transition on. */
export interface DayRollup {
  date: string;
  ms: StatusMs;
  /** The closed away time split by reason. */
  awayMs: ReasonMs;
  /** The instant and status of the last transition applied to this day, and its version. */
  lastAt: number;
  lastStatus: Status;
  /** With lastStatus away: its reason (NO_REASON for none). */
  lastAwayReason: string;
  lastVersion: number;
}

export interface RollupTransition {
  at: number;
  previous: Status;
  status: Status;
  version: number;
  /** The reason of `status` when away. */
  awayReason?: string | undefined;
  /** The reason of `previous` when away. */
  previousAwayReason?: string | undefined;
}

function addTo(ms: ReasonMs, reason: string, amount: number): void {
  if (amount > 0) ms[reason] = (ms[reason] ?? 0) + amount;
}

/**
 * The day's rollup after one transition within it, or undefined when the rollup already holds it
 * (a retried batch). The first transition of a day closes the time since its midnight in the status
 * before it; a later one closes the time since the day's previous transition.
 */
export function applyToDay(day: DayRollup | undefined, date: string, start: number, change: RollupTransition): DayRollup | undefined {
  if (day && day.lastVersion >= change.version) return undefined;
  const ms: StatusMs = day ? { ...day.ms } : { online: 0, away: 0, offline: 0 };
  const awayMs: ReasonMs = day ? { ...day.awayMs } : {};
  const [status, reason, since] = day
    ? [day.lastStatus, day.lastAwayReason, day.lastAt]
    : [change.previous, change.previousAwayReason ?? NO_REASON, start];
  ms[status] += Math.max(0, change.at - since);
  if (status === 'away') addTo(awayMs, reason, change.at - since);
  return {
    date,
    ms,
    awayMs,
    lastAt: change.at,
    lastStatus: change.status,
    lastAwayReason: change.status === 'away' ? (change.awayReason ?? NO_REASON) : NO_REASON,
    lastVersion: change.version,
  };
}

/** Whole numbers proportional to `parts` that add up to exactly `total` (largest remainders get the rounding). */
function apportion(parts: number[], total: number): number[] {
  const exact = parts.map((value) => Math.max(0, value));
  const sum = exact.reduce((a, b) => a + b, 0);
  // Scale to the total (the parts differ from it by rounding of instants only).
  const scaled = exact.map((value) => (sum > 0 ? (value * total) / sum : 0));
  const floors = scaled.map(Math.floor);
  let left = total - floors.reduce((a, b) => a + b, 0);
  const order = scaled.map((value, index) => ({ index, rest: value - floors[index]! })).sort((a, b) => b.rest - a.rest || a.index - b.index);
  for (const { index } of order) {
    if (left <= 0) break;
    floors[index]!++;
    left--;
  }
  return floors;
}

/** Whole seconds per status that add up to exactly `totalSeconds`. */
export function wholeSeconds(ms: StatusMs, totalSeconds: number): Record<Status, number> {
  const [online, away, offline] = apportion([ms.online, ms.away, ms.offline], totalSeconds) as [number, number, number];
  return { online, away, offline };
}

/** Whole seconds per away reason that add up to exactly `awaySeconds`; every id of `reasons` appears, with 0 if unused. */
export function wholeReasonSeconds(awayMs: ReasonMs, awaySeconds: number, reasons: readonly string[]): Record<string, number> {
  const keys = [...new Set([...reasons, NO_REASON, ...Object.keys(awayMs)])];
  const seconds = apportion(
    keys.map((key) => awayMs[key] ?? 0),
    awaySeconds,
  );
  return Object.fromEntries(keys.map((key, index) => [key, seconds[index]!]));
}

/**
 * Milliseconds per status of one day, up to `until` (the day's end, or now for today): the
 * rollup's closed time plus the time since its last transition in that status, or, for a day
 * without transitions, the whole time in the status in force (`carried`).
 */
export function dayMs(
  day: DayRollup | undefined,
  start: number,
  until: number,
  carried: Status,
  carriedReason: string = NO_REASON,
): { ms: StatusMs; awayMs: ReasonMs } {
  const ms: StatusMs = { online: 0, away: 0, offline: 0 };
  const awayMs: ReasonMs = {};
  if (until <= start) return { ms, awayMs };
  if (!day) {
    ms[carried] = until - start;
    if (carried === 'away') addTo(awayMs, carriedReason, until - start);
    return { ms, awayMs };
  }
  for (const status of ['online', 'away', 'offline'] as const) ms[status] = day.ms[status];
  Object.assign(awayMs, day.awayMs);
  ms[day.lastStatus] += Math.max(0, until - day.lastAt);
  if (day.lastStatus === 'away') addTo(awayMs, day.lastAwayReason, until - day.lastAt);
  return { ms, awayMs };
}

/**
 * Milliseconds per status of each date, replayed from transitions (oldest first) and the status
 * in force before the first: the exact path when rollups cannot be used (kept in another zone).
 */
export function replayDays(
  initial: { status: Status; awayReason?: string | undefined },
  changes: ReadonlyArray<{ at: number; status: Status; awayReason?: string | undefined }>,
  dates: readonly string[],
  timeZone: string,
  now: number,
): Array<{ date: string; start: number; until: number; ms: StatusMs; awayMs: ReasonMs }> {
  const result: Array<{ date: string; start: number; until: number; ms: StatusMs; awayMs: ReasonMs }> = [];
  let status = initial.status;
  let reason = initial.awayReason ?? NO_REASON;
  let next = 0;
  const take = () => {
    const change = changes[next++]!;
    status = change.status;
    reason = change.awayReason ?? NO_REASON;
  };
  for (const date of dates) {
    const start = dayStart(date, timeZone);
    const until = Math.min(dayStart(nextDate(date), timeZone), now);
    const ms: StatusMs = { online: 0, away: 0, offline: 0 };
    const awayMs: ReasonMs = {};
    const spend = (amount: number) => {
      ms[status] += amount;
      if (status === 'away') addTo(awayMs, reason, amount);
    };
    // Transitions before this day (in a gap between dates) only set the status carried in.
    while (next < changes.length && changes[next]!.at <= start) take();
    let since = start;
    while (next < changes.length && changes[next]!.at < until) {
      spend(changes[next]!.at - since);
      since = changes[next]!.at;
      take();
    }
    if (until > since) spend(until - since);
    result.push({ date, start, until, ms, awayMs });
  }
  return result;
}
