/**
 * The daily status report: whole seconds online, away and offline per user and calendar day of
 * the workspace's zone, read from the daily rollups (one item per user and day with transitions,
 * plus the latest one before the range), never by replaying the history.
 */
import { type Status, view } from '#domain/agent.ts';
import {
  applyToDay,
  type DayRollup,
  dayMs,
  dayStart,
  localDate,
  NO_REASON,
  nextDate,
  type ReasonMs,
  replayDays,
  type RollupTransition,
  type StatusMs,
  wholeReasonSeconds,
  wholeSeconds,
} from '#domain/report.ts';
import { DEFAULT_TIMEZONE } from '#domain/timezone.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { ForbiddenError, InvalidRequestError, NotFoundError } from '#app/errors.ts';
import { policyFrom } from '#app/policy.ts';
import type { Ports, StoredAgent, StoredRollup } from '#app/ports.ts';
import { type Principal, readsAnyone } from '#app/principal.ts';

/** The longest report: about a quarter. */
const MAX_REPORT_DAYS = 92;
const USERS_IN_FLIGHT = 16;

export interface ReportQuery {
  from: string;
  to: string;
  team?: string | undefined;
  userId?: string | undefined;
}

export interface ReportRow {
  date: string;
  userId: string;
  name: string;
  online: number;
  away: number;
  offline: number;
  /** The away seconds split by away reason id (NO_REASON, "", for none): every reason of the workspace, and any other with time. */
  awayByReason: Record<string, number>;
}

export interface StatusReport {
  timezone: string;
  days: ReportRow[];
}

/** One row's whole seconds: each day adds up to its length (or the time elapsed, for today), and the reasons to the away time. */
function rowOf(agent: StoredAgent, date: string, start: number, until: number, timeZone: string, ms: StatusMs, awayMs: ReasonMs, reasons: readonly string[]): ReportRow {
  const end = dayStart(nextDate(date), timeZone);
  const total = until <= start ? 0 : until === end ? Math.round((end - start) / 1000) : Math.floor((until - start) / 1000);
  const seconds = wholeSeconds(ms, total);
  return { date, userId: agent.userId, name: agent.name, ...seconds, awayByReason: wholeReasonSeconds(awayMs, seconds.away, reasons) };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function isDate(value: string): boolean {
  return DATE.test(value) && new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
}

/** The dates from `from` to `to` inclusive; refuses bad dates, a reversed range and more than MAX_REPORT_DAYS days. */
function datesOf(from: string, to: string): string[] {
  if (!isDate(from) || !isDate(to)) throw new InvalidRequestError('from and to must be calendar dates, YYYY-MM-DD');
  if (from > to) throw new InvalidRequestError('from must not be after to');
  const dates: string[] = [];
  for (let date = from; date <= to; date = nextDate(date)) {
    dates.push(date);
    if (dates.length > MAX_REPORT_DAYS) throw new InvalidRequestError(`a report covers at most ${MAX_REPORT_DAYS} days`);
  }
  return dates;
}

/** Admins and services read every row; an agent only their own (userId theirs, or omitted). */
function readerUserId(principal: Principal, userId: string | undefined): string | undefined {
  if (readsAnyone(principal)) return userId;
  if (principal.role === 'agent' && (userId === undefined || userId === principal.userId)) return principal.userId;
  throw new ForbiddenError('an agent may read only their own report');
}

export async function statusReport(
  ports: Pick<Ports, 'store' | 'clock' | 'config'>,
  principal: Principal,
  workspaceId: string,
  query: ReportQuery,
): Promise<StatusReport> {
  const userId = readerUserId(principal, query.userId);
  const dates = datesOf(query.from, query.to);
  const settings = await ports.store.getSettings(workspaceId);
  const timeZone = settings?.timezone ?? DEFAULT_TIMEZONE;
  let agents = userId === undefined ? await ports.store.listAgents(workspaceId) : await ports.store.getAgents(workspaceId, [userId]);
  if (userId !== undefined && agents.length === 0) throw new NotFoundError(`no agent ${userId} in this workspace`);
  if (query.team !== undefined) {
    agents = agents.filter((agent) => agent.teams.includes(query.team!));
    if (agents.length === 0) throw new InvalidRequestError(`no agent of this workspace is in team ${query.team}`);
  }
  const policy = policyFrom(ports.config, settings);
  const reasons = (settings?.awayReasons ?? []).map((reason) => reason.id);
  const now = ports.clock.now();
  const rows: ReportRow[] = [];
  await forEachLimited(agents, USERS_IN_FLIGHT, async (agent) => {
    const { before, days } = await ports.store.listRollups(workspaceId, agent.userId, dates[0]!, dates.at(-1)!);
    const effective = view(agent, now, policy);
    // Rollups kept in another zone (the workspace's zone changed since) have other day bounds:
    // replay that agent's history instead, which is exact in any zone.
    const otherZone = [before, ...days].some((day) => day !== undefined && day.timeZone !== timeZone);
    rows.push(
      ...(otherZone
        ? await replayedRows(ports, workspaceId, agent, dates, timeZone, now, effective, reasons)
        : agentRows(agent, dates, timeZone, before, days, now, effective, reasons)),
    );
  });
  rows.sort((a, b) => a.date.localeCompare(b.date) || a.userId.localeCompare(b.userId));
  return { timezone: timeZone, days: rows };
}

/**
 * One agent's rows. The rollups hold what the consumer has applied; what it has not yet (the
 * agent's latest committed transition, if the stream is behind) and a deadline that passed
 * without a sweep (the effective status readers see) are applied here, in memory, the same way.
 */
function agentRows(
  agent: StoredAgent,
  dates: string[],
  timeZone: string,
  before: StoredRollup | undefined,
  days: StoredRollup[],
  now: number,
  effective: { status: Status; since: number },
  reasons: readonly string[],
): ReportRow[] {
  const byDate = new Map<string, DayRollup>(days.map((day) => [day.date, day]));
  const first = dates[0]!;
  const last = dates.at(-1)!;
  let carried: Status = before?.lastStatus ?? 'offline';
  let carriedReason = before?.lastAwayReason ?? NO_REASON;
  let latest = Math.max(before?.lastVersion ?? 0, ...days.map((day) => day.lastVersion));
  let current: Status = days.at(-1)?.lastStatus ?? carried;
  let currentReason = days.at(-1)?.lastAwayReason ?? carriedReason;
  const late = (change: RollupTransition) => {
    const date = localDate(change.at, timeZone);
    if (date > last) return;
    if (date < first) {
      carried = change.status;
      carriedReason = change.awayReason ?? NO_REASON;
      return;
    }
    const applied = applyToDay(byDate.get(date), date, dayStart(date, timeZone), change);
    if (applied) byDate.set(date, applied);
  };
  if (agent.version > latest) {
    const awayReason = agent.status === 'away' ? (agent.awayReason ?? NO_REASON) : NO_REASON;
    late({ at: agent.since, previous: current, previousAwayReason: currentReason, status: agent.status, awayReason, version: agent.version });
    latest = agent.version;
    current = agent.status;
    currentReason = awayReason;
  }
  if (effective.status !== current) {
    late({ at: effective.since, previous: current, previousAwayReason: currentReason, status: effective.status, version: latest + 1 });
  }

  const rows: ReportRow[] = [];
  let state = carried;
  let stateReason = carriedReason;
  for (const date of dates) {
    const start = dayStart(date, timeZone);
    const until = Math.min(dayStart(nextDate(date), timeZone), now);
    const day = byDate.get(date);
    const { ms, awayMs } = dayMs(day, start, until, state, stateReason);
    rows.push(rowOf(agent, date, start, until, timeZone, ms, awayMs, reasons));
    state = day?.lastStatus ?? state;
    stateReason = day ? day.lastAwayReason : stateReason;
  }
  return rows;
}

/** One agent's rows from its history: the entry before the range, then every entry in it. */
async function replayedRows(
  ports: Pick<Ports, 'store'>,
  workspaceId: string,
  agent: StoredAgent,
  dates: string[],
  timeZone: string,
  now: number,
  effective: { status: Status; since: number },
  reasons: readonly string[],
): Promise<ReportRow[]> {
  const from = dayStart(dates[0]!, timeZone);
  const to = Math.min(dayStart(nextDate(dates.at(-1)!), timeZone), now);
  const before = await ports.store.lastHistoryBefore(workspaceId, agent.userId, from);
  const changes: Array<{ at: number; status: Status; version: number; awayReason?: string | undefined }> = [];
  let after: string | undefined;
  do {
    const page = await ports.store.listHistory(workspaceId, agent.userId, { from, to: Math.max(from, to), limit: 1000, after });
    changes.push(...page.entries);
    after = page.next;
  } while (after);
  let latest = changes.at(-1)?.version ?? before?.version ?? 0;
  let current: Status = changes.at(-1)?.status ?? before?.status ?? 'offline';
  // As with rollups: the agent's latest committed transition if the stream is behind, and a deadline readers already see.
  if (agent.version > latest && agent.since >= from) {
    changes.push({ at: agent.since, status: agent.status, version: agent.version, ...(agent.status === 'away' && agent.awayReason !== null ? { awayReason: agent.awayReason } : {}) });
    latest = agent.version;
    current = agent.status;
  }
  if (effective.status !== current) changes.push({ at: effective.since, status: effective.status, version: latest + 1 });
  const initial = { status: before?.status ?? 'offline', awayReason: before?.awayReason };
  return replayDays(initial, changes, dates, timeZone, now).map(({ date, start, until, ms, awayMs }) => rowOf(agent, date, start, until, timeZone, ms, awayMs, reasons));
}

/** A spreadsheet must not run a name as a formula: cells starting with = + - @ get a leading quote. */
function csvCell(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The rows as CSV: `date,userId,name,online,away,offline`, then one column of away seconds per
 * reason, `away:<id>` (the workspace's reasons in their order, then any other with time), and
 * `away:(none)` for away with no reason; the reason columns add up to `away`.
 */
export function reportCsv(report: StatusReport): string {
  const reasons = [...new Set(report.days.flatMap((row) => Object.keys(row.awayByReason)))].filter((id) => id !== NO_REASON);
  const header = ['date', 'userId', 'name', 'online', 'away', 'offline', ...reasons.map((id) => `away:${id}`), 'away:(none)'];
  const lines = [header.map(csvCell).join(',')];
  for (const row of report.days) {
    const split = [...reasons, NO_REASON].map((id) => row.awayByReason[id] ?? 0);
    lines.push([row.date, row.userId, row.name, row.online, row.away, row.offline, ...split].map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
