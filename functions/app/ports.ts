/** The ports the use cases are given. Adapters implement them; tests pass fakes or the real store. */
import type { Agent, Reason, Status, Transition, UnavailableNotice } from '#domain/agent.ts';
import type { HistoryEntry } from '#domain/history.ts';
import type { DayRollup } from '#domain/report.ts';

/** A day's rollup and the zone its day was computed in. */
export interface StoredRollup extends DayRollup {
  timeZone: string;
}

/** An agent as stored, with the deadline the index holds for it. */
export interface StoredAgent extends Agent {
  dueAt: number | null;
}

export interface ConnectionRecord {
  connectionId: string;
  userId: string;
  connectedAt: number;
  /** The teams this connection subscribed to; absent or null: the whole workspace. */
  scope?: string[] | null | undefined;
  /** When the token it was opened with ends (epoch ms): delivery stops then and closes it. */
  expiresAt?: number | undefined;
}

export interface WorkspaceSettings {
  idleTimeoutSeconds: number;
  /** IANA time zone of the workspace's report days; absent: UTC. */
  timezone?: string | undefined;
  /**
   * The recent changes, oldest first (the timeout before each, and when it changed), so every
   * path judges activity from before them the same way (idleDeadline).
   */
  changes?: Array<{ previousIdleTimeoutSeconds: number; changedAt: number }> | undefined;
  /** The reasons an agent may give for being away, in the order the picker shows them; absent: none. */
  awayReasons?: AwayReason[] | undefined;
  /** Seconds away or offline after leaving online before AgentUnavailable; absent: the hook is off. */
  unavailableAfterSeconds?: number | undefined;
}

export interface AwayReason {
  id: string;
  label: string;
  emoji?: string | undefined;
}

export interface PresenceStore {
  /** The agent and its workspace's settings, read together (consistent). */
  getAgentWithSettings(
    workspaceId: string,
    userId: string,
  ): Promise<{ agent: StoredAgent | undefined; settings: WorkspaceSettings | undefined }>;
  /**
   * Writes the agent if its version is still `agent.version`; false when another writer won. The
   * write records the changes it commits (the stream's consumer delivers them) and moves the
   * version to versionAfter(agent.version, changes.length), and records the AgentUnavailable
   * notices it commits (the same consumer publishes them).
   */
  saveAgent(agent: Agent, dueAt: number | null, now: number, changes?: Transition[], notices?: UnavailableNotice[]): Promise<boolean>;
  listAgents(workspaceId: string): Promise<StoredAgent[]>;
  /** The agents of these users that exist (consistent; any number of ids, read in batches). */
  getAgents(workspaceId: string, userIds: string[]): Promise<StoredAgent[]>;
  /** Records that the user is in these teams (membership items, kept as long as agents; idempotent). */
  putMemberships(workspaceId: string, userId: string, teams: string[], now: number): Promise<void>;
  deleteMemberships(workspaceId: string, userId: string, teams: string[]): Promise<void>;
  /** The users with a membership item of this team (may include users who left it since). */
  listTeamMembers(workspaceId: string, team: string): Promise<string[]>;
  /** Agents whose published status is `status` (online or away), from the sparse status index. */
  listByStatus(workspaceId: string, status: Exclude<Status, 'offline'>): Promise<StoredAgent[]>;
  /** Agents of one deadline shard due at `now`, page by page. */
  dueAgents(shard: number, now: number): AsyncIterable<StoredAgent[]>;
  readonly deadlineShards: number;
  /**
   * Writes the connection's item and its place in the subscriber index; with onlyIfAbsent, leaves
   * an existing one as it is.
   */
  putConnection(workspaceId: string, connection: ConnectionRecord, options?: { onlyIfAbsent?: boolean }): Promise<void>;
  /** Replaces the connection's scope, item and index together (the item is written if gone). */
  setScope(workspaceId: string, connection: ConnectionRecord): Promise<void>;
  /**
   * Deletes the connections' items and index entries; `known` records name the index entries of
   * connections whose item is already gone.
   */
  deleteConnections(workspaceId: string, connectionIds: string[], known?: ConnectionRecord[]): Promise<void>;
  /** Every connection of the workspace (tests and tools; delivery reads only its audience). */
  listConnections(workspaceId: string): Promise<ConnectionRecord[]>;
  /**
   * The connections a change of these users (in these teams) may go to: the users' own, those
   * subscribed to one of the teams, and those following the whole workspace (consistent). Its cost
   * grows with that audience, not with the workspace.
   */
  listAudience(workspaceId: string, users: string[], teams: string[]): Promise<ConnectionRecord[]>;
  /** This user's connections (consistent). */
  listUserConnections(workspaceId: string, userId: string): Promise<ConnectionRecord[]>;
  getConnection(workspaceId: string, connectionId: string): Promise<ConnectionRecord | undefined>;
  /** Which of these connections still have their item (consistent; any number, read in batches). */
  existingConnections(workspaceId: string, connectionIds: string[]): Promise<Set<string>>;
  getSettings(workspaceId: string): Promise<WorkspaceSettings | undefined>;
  putSettings(workspaceId: string, settings: WorkspaceSettings): Promise<void>;
  /** A user's rollup of one day (consistent), with the zone its day was computed in. */
  getRollup(workspaceId: string, userId: string, date: string): Promise<StoredRollup | undefined>;
  /**
   * Writes a user's rollup of one day if the stored one is still the one read (`expectedVersion`:
   * its lastVersion, or undefined for none); false when another write came first.
   */
  putRollup(workspaceId: string, userId: string, rollup: StoredRollup, expectedVersion: number | undefined, expiresAt: number): Promise<boolean>;
  /** A user's rollups of the days from `fromDate` to `toDate` inclusive, oldest first, and the latest one before `fromDate`. */
  listRollups(workspaceId: string, userId: string, fromDate: string, toDate: string): Promise<{ before?: StoredRollup | undefined; days: StoredRollup[] }>;
  /** Writes each entry (idempotent: an entry's key is its user and version), expiring at `expiresAt` (epoch ms). */
  recordHistory(workspaceId: string, entries: HistoryEntry[], expiresAt: (entry: HistoryEntry) => number): Promise<void>;
  /** A user's latest entry with `at < before`, if any. */
  lastHistoryBefore(workspaceId: string, userId: string, before: number): Promise<HistoryEntry | undefined>;
  /** A user's entries with `from <= at < to`, oldest first, at most `limit`; `next` continues after the last one. */
  listHistory(workspaceId: string, userId: string, range: { from: number; to: number; limit: number; after?: string | undefined }): Promise<{ entries: HistoryEntry[]; next?: string | undefined }>;
}

/** The API Gateway management API (`@connections`). `post` throws ConnectionGoneError when gone. */
export interface ConnectionGateway {
  post(connectionId: string, message: unknown): Promise<void>;
  delete(connectionId: string): Promise<void>;
}

/**
 * One part of a large fan-out: the messages, in order, for some of the workspace's connections.
 * `now` is the consumer's clock, which decides whether a 410 comes from a connection still opening.
 */
export interface FanoutChunk {
  messages: unknown[];
  connections: ConnectionRecord[];
  now: number;
}

export interface ChunkReport {
  posted: number;
  failed: number;
  /** 410s from connections that may still be in `$connect`: skipped, not forgotten. */
  opening: number;
  /** Connection ids that answered 410 and are old enough to be gone. */
  gone: string[];
}

/**
 * Posts a chunk somewhere else (its own Lambda invocation; a worker thread locally), so a large
 * fan-out runs in parallel. Throws FanoutDispatchError when the chunk was not posted.
 */
export interface FanoutDispatcher {
  post(chunk: FanoutChunk): Promise<ChunkReport>;
}

export interface PresenceChanged {
  workspaceId: string;
  userId: string;
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  /** On a change to away with a reason: its id. */
  awayReason?: string;
  /** The admin who made the change (reason `admin`, or `logout` by an admin). */
  by?: string;
}

/** The reassignment hook's event: the notice the sweeper committed, as published. */
export type AgentUnavailable = UnavailableNotice;

export interface EventPublisher {
  publish(events: PresenceChanged[]): Promise<void>;
  publishUnavailable(events: AgentUnavailable[]): Promise<void>;
}

export interface Clock {
  now(): number;
}

export interface Logger {
  info(message: string, ...extra: unknown[]): void;
  warn(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

export interface PresenceConfig {
  leaseMs: number;
  graceMs: number;
  defaultIdleTimeoutSeconds: number;
  minIdleTimeoutSeconds: number;
  /** The lowest unavailableAfterSeconds the settings accept (30; lower in tests). */
  minUnavailableAfterSeconds: number;
  maxIdleTimeoutSeconds: number;
  sweepIntervalMs: number;
  /** Posts in flight at once during a fan-out. */
  fanoutConcurrency: number;
  /**
   * Connections per fan-out chunk. A fan-out to more connections than this is split into chunks,
   * each posted by its own dispatch (when a dispatcher is configured), all at once.
   */
  fanoutChunkSize: number;
  /** How long an agent item is kept after its last write (garbage collection by TTL). */
  agentRetentionMs: number;
  /** How long each history entry is kept (PRESENCE_HISTORY_RETENTION_DAYS) before TTL expires it. */
  historyRetentionMs: number;
  /** Open connections one user may have; a `$connect` beyond it is refused (429). */
  maxConnectionsPerUser: number;
}

export interface Ports {
  store: PresenceStore;
  gateway: ConnectionGateway;
  events: EventPublisher;
  clock: Clock;
  config: PresenceConfig;
  logger: Logger;
  /** Where chunks of a large fan-out go; without one, every post is made here. */
  fanout?: FanoutDispatcher | undefined;
}

