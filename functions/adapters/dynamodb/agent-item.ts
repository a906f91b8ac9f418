/** The agent item: an agent as the table stores it, with the changes and notices its write commits, and back. */
import { type Agent, type ChosenStatus, type Reason, type Status, type Transition, type UnavailableNotice, versionAfter } from '#domain/agent.ts';
import type { StoredAgent } from '#app/ports.ts';
import { agentSk, deadlineShard, duePk, statusPk, workspacePk } from '#adapters/keys.ts';
import type { TableItem } from './access.ts';

/** A committed change as the agent item records it; the item holds who (ids, name, teams). */
export interface StoredChange {
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  version: number;
  awayReason?: string;
  previousAwayReason?: string;
  by?: string;
}

/** An AgentUnavailable notice as the agent item records it. */
export interface StoredNotice {
  status: Exclude<Status, 'online'>;
  since: number;
  at: number;
}

/** A type, not an interface: an item is a plain record of attributes (TableItem). */
type AgentItem = {
  pk: string;
  sk: string;
  workspaceId: string;
  userId: string;
  name: string;
  teams: string[];
  chosen: ChosenStatus;
  awayReason?: string;
  status: Status;
  reason?: Reason;
  since: number;
  lastActiveAt: number;
  connections: Record<string, number>;
  leaseUntil: number;
  graceUntil?: number;
  loggedOut: boolean;
  by?: string;
  unavailableSince?: number;
  unavailableNotified?: boolean;
  version: number;
  /** The changes this write committed, for the stream's consumer; absent on writes without any. */
  changes?: StoredChange[];
  /** The AgentUnavailable notices this write committed, for the stream's consumer; absent on writes without any. */
  notices?: StoredNotice[];
  statusPk?: string;
  statusSk?: string;
  duePk?: string;
  dueAt?: number;
  ttl: number;
};

/** What the item's keys and lifetime depend on beyond the agent. */
export interface AgentItemOptions {
  /** How long an agent item lives after its last write before TTL may collect it. */
  agentRetentionMs: number;
  deadlineShards: number;
}

/** The item a write of this agent leaves, at the version after its changes. */
export function toAgentItem(
  agent: Agent,
  dueAt: number | null,
  now: number,
  changes: Transition[],
  notices: UnavailableNotice[],
  options: AgentItemOptions,
): AgentItem {
  const item: AgentItem = {
    pk: workspacePk(agent.workspaceId),
    sk: agentSk(agent.userId),
    workspaceId: agent.workspaceId,
    userId: agent.userId,
    name: agent.name,
    teams: agent.teams,
    chosen: agent.chosen,
    status: agent.status,
    since: agent.since,
    lastActiveAt: agent.lastActiveAt,
    connections: agent.connections,
    leaseUntil: agent.leaseUntil,
    loggedOut: agent.loggedOut,
    version: versionAfter(agent.version, changes.length),
    ttl: Math.ceil((now + options.agentRetentionMs) / 1000),
  };
  if (changes.length > 0) {
    item.changes = changes.map(({ status, previous, reason, at, version, awayReason, previousAwayReason, by }) => ({
      status,
      previous,
      reason,
      at,
      version,
      ...(awayReason !== undefined ? { awayReason } : {}),
      ...(previousAwayReason !== undefined ? { previousAwayReason } : {}),
      ...(by !== undefined ? { by } : {}),
    }));
  }
  if (notices.length > 0) item.notices = notices.map(({ status, since, at }) => ({ status, since, at }));
  if (agent.awayReason !== null) item.awayReason = agent.awayReason;
  if (agent.by !== null) item.by = agent.by;
  if (agent.unavailableSince !== null) item.unavailableSince = agent.unavailableSince;
  if (agent.unavailableNotified) item.unavailableNotified = true;
  if (agent.reason) item.reason = agent.reason;
  if (agent.graceUntil !== null) item.graceUntil = agent.graceUntil;
  // Sparse index keys: present only while they mean something.
  if (agent.status !== 'offline') {
    item.statusPk = statusPk(agent.workspaceId, agent.status);
    item.statusSk = agent.userId;
  }
  if (dueAt !== null) {
    item.duePk = duePk(deadlineShard(agent.workspaceId, agent.userId, options.deadlineShards));
    item.dueAt = dueAt;
  }
  return item;
}

export function toAgent(item: TableItem): StoredAgent {
  const it = item as unknown as AgentItem;
  return {
    workspaceId: it.workspaceId,
    userId: it.userId,
    name: it.name,
    teams: it.teams ?? [],
    chosen: it.chosen,
    awayReason: it.awayReason ?? null,
    status: it.status,
    reason: it.reason ?? null,
    since: it.since,
    lastActiveAt: it.lastActiveAt,
    connections: it.connections ?? {},
    leaseUntil: it.leaseUntil,
    graceUntil: it.graceUntil ?? null,
    loggedOut: it.loggedOut,
    by: it.by ?? null,
    unavailableSince: it.unavailableSince ?? null,
    unavailableNotified: it.unavailableNotified ?? false,
    version: it.version,
    dueAt: it.dueAt ?? null,
  };
}
