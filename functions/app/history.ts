/**
 * Status history: the delivery consumer records every committed transition once (each entry's
 * key is its user and version, so a retried batch rewrites the same entries); admins, services
 * and the agent themself read a user's timeline.
 */
import { historyEntryOf } from '#domain/history.ts';
import type { Transition } from '#domain/presence.ts';
import { ForbiddenError, InvalidRequestError } from '#app/errors.ts';
import type { Ports } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

/** Entries in one timeline page. */
const HISTORY_PAGE = 1000;

/** Records a batch's transitions, per workspace, each kept `historyRetentionMs` from its instant. */
export async function recordHistory(ports: Pick<Ports, 'store' | 'config'>, changes: Transition[]): Promise<void> {
  const byWorkspace = new Map<string, Transition[]>();
  for (const change of changes) byWorkspace.set(change.workspaceId, [...(byWorkspace.get(change.workspaceId) ?? []), change]);
  const retention = ports.config.historyRetentionMs;
  await Promise.all(
    [...byWorkspace].map(([workspaceId, list]) => ports.store.recordHistory(workspaceId, list.map(historyEntryOf), (entry) => entry.at + retention)),
  );
}

/** Admins and services read anyone's history in their workspace; an agent only their own. */
function authorizeHistoryReader(principal: Principal, userId: string): void {
  if (principal.role === 'admin' || principal.role === 'service') return;
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
  transitions: Array<{ status: string; previous: string; reason: string; at: number; by: string | null }>;
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
    transitions: page.entries.map(({ status, previous, reason, at, by }) => ({ status, previous, reason, at, by })),
    ...(page.next ? { next: encodeCursor(page.next) } : {}),
  };
}
