/** Pure key builders for the single-table model. Ids never contain `#` (see domain/ids.ts). */
import type { Status } from '#domain/agent.ts';
import { TABLE } from '#adapters/table.ts';

export const AGENT_PREFIX = 'AGENT#';
export const CONNECTION_PREFIX = 'CONN#';
export const SETTINGS_SK = 'SETTINGS';
const TEAM_PREFIX = 'TEAM#';

export const workspacePk = (workspaceId: string) => `WS#${workspaceId}`;
export const agentSk = (userId: string) => `${AGENT_PREFIX}${userId}`;
export const connectionSk = (connectionId: string) => `${CONNECTION_PREFIX}${connectionId}`;
/** A membership item: team first, so one team's members are one key-prefix query. */
export const teamMemberPrefix = (team: string) => `${TEAM_PREFIX}${team}#`;
export const teamMemberSk = (team: string, userId: string) => `${teamMemberPrefix(team)}${userId}`;
/**
 * The subscriber index: a copy of each connection item under every key a delivery looks it up
 * by, so a change is delivered after reading its audience, never the whole workspace's connections.
 * A connection is under its user (own changes always reach it), and under the whole workspace or
 * each team it subscribes to.
 */
const SUBSCRIBER_PREFIX = 'SUB#';
export const userSubscriberPrefix = (userId: string) => `${SUBSCRIBER_PREFIX}U#${userId}#`;
export const teamSubscriberPrefix = (team: string) => `${SUBSCRIBER_PREFIX}T#${team}#`;
export const WORKSPACE_SUBSCRIBER_PREFIX = `${SUBSCRIBER_PREFIX}W#`;
/**
 * History: one item per committed transition, under its user, ordered by time (then version), so a
 * user's timeline between two instants is one key-range query. The version makes the key unique
 * per transition: a retried stream batch rewrites the same item.
 */
export const historyPrefix = (userId: string) => `HIST#${userId}#`;
const HISTORY_TIME_DIGITS = 13;
export const historySk = (userId: string, at: number, version: number) =>
  `${historyPrefix(userId)}${String(at).padStart(HISTORY_TIME_DIGITS, '0')}#${String(version).padStart(12, '0')}`;
/** The first key at or after `at` in a user's history (a query bound). */
export const historyBound = (userId: string, at: number) => `${historyPrefix(userId)}${String(at).padStart(HISTORY_TIME_DIGITS, '0')}`;
/**
 * Daily rollups: a user's time per status on one calendar day of the workspace's zone, under the
 * user then the date, so a user's days between two dates are one key range.
 */
export const rollupPrefix = (userId: string) => `RDAY#${userId}#`;
export const rollupSk = (userId: string, date: string) => `${rollupPrefix(userId)}${date}`;
export const statusPk = (workspaceId: string, status: Exclude<Status, 'offline'>) => `WS#${workspaceId}#STATUS#${status}`;
export const duePk = (shard: number) => `DUE#${shard}`;

/** A stable shard for an agent (FNV-1a), so its deadline entry never moves between shards. */
export function deadlineShard(workspaceId: string, userId: string, shards: number = TABLE.deadlineShards): number {
  let hash = 0x811c9dc5;
  for (const char of `${workspaceId}#${userId}`) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}
