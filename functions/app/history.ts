/**
 * Status history: the delivery consumer records every committed transition once (each entry's
 * key is its user and version, so a retried batch rewrites the same entries); admins, services
 * and the agent themself read a user's timeline.
 */
import { historyEntryOf } from '#domain/history.ts';
import type { Transition } from '#domain/agent.ts';
import { applyToDay, dayStart, localDate } from '#domain/report.ts';
import { DEFAULT_TIMEZONE } from '#domain/timezone.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { ForbiddenError, InvalidRequestError } from '#app/errors.ts';
import type { Ports } from '#app/ports.ts';
import { type Principal, readsAnyone } from '#app/principal.ts';

/** Entries in one timeline page. */
const HISTORY_PAGE = 1000;

/** Reads and conditional writes of one day's rollup before a transition gives up (another writer kept winning). */
const ROLLUP_ATTEMPTS = 4;
/**
 * Users whose rollups one batch updates at once (each user's transitions in order). The next batch
 * waits for this one's rollups as for its posts: a storm's batch of 100 arrivals is 100 reads
 * and 100 writes, made 64 at a time.
 */
const USERS_IN_FLIGHT = 64;

/**
 * Records a batch's transitions, per workspace: each as a history entry, and into its user's
 * rollup of the day it happened on in the workspace's zone. Both are kept `historyRetentionMs`
 * from the transition's instant. Idempotent: entries are keyed by user and version, and a rollup
 * holds the last version applied, so a retried batch changes nothing.
 */
export async function recordHistory(ports: Pick<Ports, 'store' | 'config'>, changes: Transition[]): Promise<void> {
  const byWorkspace = new Map<string, Transition[]>();
  for (const change of changes) byWorkspace.set(change.workspaceId, [...(byWorkspace.get(change.workspaceId) ?? []), change]);
  const retention = ports.config.historyRetentionMs;
  await Promise.all(
    [...byWorkspace].map(async ([workspaceId, list]) => {
      const settings = ports.store.getSettings(workspaceId);
      await ports.store.recordHistory(workspaceId, list.map(historyEntryOf), (entry) => entry.at + retention);
      const timeZone = (await settings)?.timezone ?? DEFAULT_TIMEZONE;
      const byUser = new Map<string, Transition[]>();
      for (const change of list) byUser.set(change.userId, [...(byUser.get(change.userId) ?? []), change]);
      await forEachLimited([...byUser.values()], USERS_IN_FLIGHT, async (own) => {
        for (const change of own) await applyRollup(ports, change, timeZone, retention);
      });
    }),
  );
}

/** One transition into its day's rollup: read, apply (nothing if the rollup holds it already), write if unchanged since the read. */
async function applyRollup(ports: Pick<Ports, 'store'>, change: Transition, timeZone: string, retention: number): Promise<void> {
  const date = localDate(change.at, timeZone);
  const start = dayStart(date, timeZone);
  for (let attempt = 0; attempt < ROLLUP_ATTEMPTS; attempt++) {
    const stored = await ports.store.getRollup(change.workspaceId, change.userId, date);
    if (stored && stored.lastVersion >= change.version) return;
    // A rollup of the same date in another zone (the workspace's zone changed that day) starts again in this one.
    const next = applyToDay(stored?.timeZone === timeZone ? stored : undefined, date, start, change);
    if (!next) return;
    if (await ports.store.putRollup(change.workspaceId, change.userId, { ...next, timeZone }, stored?.lastVersion, change.at + retention)) return;
  }
  throw new Error(`the rollup of ${change.userId} on ${date} kept changing while version ${change.version} was applied`);
}

/** Admins and services read anyone's history in their workspace; an agent only their own. */
function authorizeHistoryReader(principal: Principal, userId: string): void {
  if (readsAnyone(principal)) return;
  if (principal.role === 'agent' && principal.userId === userId) return;
  throw new ForbiddenError('an agent may read only their own history');
}

/** A page cursor: the last key read, opaque to the caller. */
function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!key || encodeCursor(key) !== cursor) throw new InvalidRequestError('next is not a cursor this route gave');
  return key;
}

export interface TimelineQuery {
  from: number;
  to: number;
  next?: string | undefined;
}

export interface Timeline {
  transitions: Array<{ status: string; previous: string; reason: string; at: number; by: string | null; awayReason?: string }>;
  /** Present when more transitions follow: pass it back as `next` for the following page. */
  next?: string;
}

export async function readTimeline(
  ports: Pick<Ports, 'store'>,
  principal: Principal,
  workspaceId: string,
  userId: string,
  query: TimelineQuery,
): Promise<Timeline> {
  authorizeHistoryReader(principal, userId);
  if (query.from > query.to) throw new InvalidRequestError('from must not be after to');
  const after = query.next === undefined ? undefined : decodeCursor(query.next);
  const page = await ports.store.listHistory(workspaceId, userId, { from: query.from, to: query.to, limit: HISTORY_PAGE, after });
  return {
    transitions: page.entries.map(({ status, previous, reason, at, by, awayReason }) => ({
      status,
      previous,
      reason,
      at,
      by,
      ...(awayReason !== undefined ? { awayReason } : {}),
    })),
    ...(page.next ? { next: encodeCursor(page.next) } : {}),
  };
}
