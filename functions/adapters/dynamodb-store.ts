/** The presence store on DynamoDB (DocumentClient), following the single-table model in table.ts. */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Agent, type ChosenStatus, type Reason, type Status, type Transition, type UnavailableNotice, versionAfter } from '#domain/agent.ts';
import type { HistoryEntry } from '#domain/history.ts';
import { InvalidRequestError } from '#app/errors.ts';
import type { ConnectionRecord, PresenceStore, StoredAgent, StoredRollup, WorkspaceSettings } from '#app/ports.ts';
import {
  AGENT_PREFIX,
  agentSk,
  CONNECTION_PREFIX,
  connectionSk,
  deadlineShard,
  duePk,
  historyBound,
  historyPrefix,
  historySk,
  rollupPrefix,
  rollupSk,
  SETTINGS_SK,
  statusPk,
  teamMemberPrefix,
  teamMemberSk,
  teamSubscriberPrefix,
  userSubscriberPrefix,
  workspacePk,
  WORKSPACE_SUBSCRIBER_PREFIX,
} from '#adapters/keys.ts';
import { TABLE } from '#adapters/table.ts';

/** API Gateway closes every WebSocket connection after 2 hours; keep its item a little longer. */
const CONNECTION_RETENTION_MS = 3 * 60 * 60 * 1000;
const BATCH_WRITE_LIMIT = 25;
const BATCH_GET_LIMIT = 100;
/** BatchGetItem may leave keys unprocessed under throttling; after this many rounds, one Get each. */
const BATCH_GET_ROUNDS = 3;
/** Queries of one audience read at once. */
const QUERIES_IN_FLIGHT = 16;
/** Subscribes racing on one connection: each loser reads the winner's scope and tries again. */
const SCOPE_ATTEMPTS = 8;

/** The sort keys a connection is indexed under as a subscriber (see keys.ts). */
function subscriberKeys(connection: Pick<ConnectionRecord, 'connectionId' | 'userId' | 'scope'>): string[] {
  const id = connection.connectionId;
  const scope = connection.scope ?? null;
  const followed = scope === null ? [`${WORKSPACE_SUBSCRIBER_PREFIX}${id}`] : [...new Set(scope)].map((team) => `${teamSubscriberPrefix(team)}${id}`);
  return [`${userSubscriberPrefix(connection.userId)}${id}`, ...followed];
}

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

/** The rollup's awayMs key of away time with no reason ('#' is not in the id rule). */
const NO_REASON_KEY = '#none';

interface AgentItem {
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
}

export interface DynamoDbStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long an agent item lives after its last write before TTL may collect it. */
  agentRetentionMs: number;
  deadlineShards?: number;
  /** Items per query page (DynamoDB's 1 MB page when omitted); bounds memory of a sweep. */
  pageSize?: number;
}

function toHistoryEntry(item: Record<string, unknown>): HistoryEntry {
  return {
    userId: item.userId as string,
    status: item.status as HistoryEntry['status'],
    previous: item.previous as HistoryEntry['previous'],
    reason: item.reason as HistoryEntry['reason'],
    at: item.at as number,
    version: item.version as number,
    by: (item.by as string | null | undefined) ?? null,
    ...(typeof item.awayReason === 'string' ? { awayReason: item.awayReason } : {}),
  };
}

function toRollup(item: Record<string, unknown>): StoredRollup {
  return {
    date: item.date as string,
    timeZone: item.timeZone as string,
    ms: { online: item.online as number, away: item.away as number, offline: item.offline as number },
    awayMs: Object.fromEntries(Object.entries((item.awayMs as Record<string, number> | undefined) ?? {}).map(([key, ms]) => [key === NO_REASON_KEY ? '' : key, ms])),
    lastAt: item.lastAt as number,
    lastStatus: item.lastStatus as Status,
    lastAwayReason: (item.lastAwayReason as string | undefined) ?? '',

    lastVersion: item.lastVersion as number,
  };
}

function toSettings(item: Record<string, unknown>): WorkspaceSettings {
  return {
    idleTimeoutSeconds: item.idleTimeoutSeconds as number,
    ...(typeof item.timezone === 'string' ? { timezone: item.timezone } : {}),
    ...(Array.isArray(item.changes) ? { changes: item.changes as NonNullable<WorkspaceSettings['changes']> } : {}),
    ...(Array.isArray(item.awayReasons) ? { awayReasons: item.awayReasons as NonNullable<WorkspaceSettings['awayReasons']> } : {}),
    ...(typeof item.unavailableAfterSeconds === 'number' ? { unavailableAfterSeconds: item.unavailableAfterSeconds } : {}),
  };
}

/** A condition that the item holds this connection's scope (or, for none, that the item is absent). */
function scopeIs(connection: ConnectionRecord | undefined) {
  if (!connection) return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (connection.scope) {
    return { ConditionExpression: '#scope = :scope', ExpressionAttributeNames: { '#scope': 'scope' }, ExpressionAttributeValues: { ':scope': connection.scope } };
  }
  return { ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#scope)', ExpressionAttributeNames: { '#scope': 'scope' } };
}

/** A write refused by its condition: alone, or as the reason a transaction was cancelled. */
function isConditionFailure(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return true;
  const reasons = (error as { name?: string; CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  return (error as { name?: string }).name === 'TransactionCanceledException' && (reasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
}

function toConnection(item: Record<string, unknown>): ConnectionRecord {
  return {
    connectionId: item.connectionId as string,
    userId: item.userId as string,
    connectedAt: item.connectedAt as number,
    scope: Array.isArray(item.scope) ? (item.scope as string[]) : null,
    ...(typeof item.expiresAt === 'number' ? { expiresAt: item.expiresAt } : {}),
  };
}

function toAgent(item: Record<string, unknown>): StoredAgent {
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

export class DynamoDbPresenceStore implements PresenceStore {
  readonly deadlineShards: number;
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly agentRetentionMs: number;
  private readonly pageSize: number | undefined;

  constructor(options: DynamoDbStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.agentRetentionMs = options.agentRetentionMs;
    this.deadlineShards = options.deadlineShards ?? TABLE.deadlineShards;
    this.pageSize = options.pageSize;
  }

  async saveAgent(agent: Agent, dueAt: number | null, now: number, changes: Transition[] = [], notices: UnavailableNotice[] = []): Promise<boolean> {
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
      ttl: Math.ceil((now + this.agentRetentionMs) / 1000),
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
      item.duePk = duePk(deadlineShard(agent.workspaceId, agent.userId, this.deadlineShards));
      item.dueAt = dueAt;
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...(agent.version === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': agent.version } }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async listAgents(workspaceId: string): Promise<StoredAgent[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':prefix': AGENT_PREFIX },
      ConsistentRead: true,
    });
    return items.map(toAgent);
  }

  async listByStatus(workspaceId: string, status: Exclude<Status, 'offline'>): Promise<StoredAgent[]> {
    const index = TABLE.indexes.byStatus;
    const items = await this.queryAll({
      TableName: this.tableName,
      IndexName: index.name,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': index.partitionKey },
      ExpressionAttributeValues: { ':pk': statusPk(workspaceId, status) },
    });
    return items.map(toAgent);
  }

  async *dueAgents(shard: number, now: number): AsyncIterable<StoredAgent[]> {
    const index = TABLE.indexes.byDeadline;
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: '#pk = :pk AND #due <= :now',
          ExpressionAttributeNames: { '#pk': index.partitionKey, '#due': index.sortKey },
          ExpressionAttributeValues: { ':pk': duePk(shard), ':now': now },
          ExclusiveStartKey,
          ...(this.pageSize ? { Limit: this.pageSize } : {}),
        }),
      );
      ExclusiveStartKey = page.LastEvaluatedKey;
      if (page.Items?.length) yield page.Items.map(toAgent);
    } while (ExclusiveStartKey);
  }

  /** The connection's item and its copies in the subscriber index, all alike. */
  private connectionItems(workspaceId: string, connection: ConnectionRecord): Record<string, unknown>[] {
    const pk = workspacePk(workspaceId);
    const body = {
      connectionId: connection.connectionId,
      userId: connection.userId,
      connectedAt: connection.connectedAt,
      ...(connection.scope ? { scope: connection.scope } : {}),
      ...(connection.expiresAt !== undefined ? { expiresAt: connection.expiresAt } : {}),
      ttl: Math.ceil((connection.connectedAt + CONNECTION_RETENTION_MS) / 1000),
    };
    return [connectionSk(connection.connectionId), ...subscriberKeys(connection)].map((sk) => ({ pk, sk, ...body }));
  }

  async putConnection(workspaceId: string, connection: ConnectionRecord, options: { onlyIfAbsent?: boolean } = {}): Promise<void> {
    const [item, ...copies] = this.connectionItems(workspaceId, connection);
    if (!options.onlyIfAbsent) {
      await this.batchWrite([item, ...copies].map((Item) => ({ PutRequest: { Item } })));
      return;
    }
    // All or nothing: an existing item holds a scope its copies must keep.
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            ...copies.map((Item) => ({ Put: { TableName: this.tableName, Item } })),
          ],
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw error;
    }
  }

  async setScope(workspaceId: string, connection: ConnectionRecord): Promise<void> {
    const pk = workspacePk(workspaceId);
    // First as a connection that still follows the whole workspace (a subscribe right after
    // $connect, the common case), without reading it; after a condition failure, as it is.
    let current: ConnectionRecord | undefined = { ...connection, scope: null };
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) current = await this.getConnection(workspaceId, connection.connectionId);
      const [item, ...copies] = this.connectionItems(workspaceId, connection);
      const keep = new Set(copies.map((copy) => copy.sk as string));
      const stale = current ? subscriberKeys(current).filter((sk) => !keep.has(sk)) : [];
      // The new copies first, so from the moment the item holds the new scope the index has it.
      await this.batchWrite(copies.map((Item) => ({ PutRequest: { Item } })));
      try {
        // Only if nobody changed the scope since it was read.
        await this.client.send(new PutCommand({ TableName: this.tableName, Item: item, ...scopeIs(current) }));
      } catch (error) {
        // Not as assumed, or another subscribe on this connection won: read it and go again.
        if (isConditionFailure(error) && attempt < SCOPE_ATTEMPTS) {
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
          continue;
        }
        throw error;
      }
      // A stale copy goes only if it still holds the scope it was read with: a subscribe racing
      // this one may have written it again for its own scope.
      await Promise.all(
        stale.map(async (sk) => {
          try {
            await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: { pk, sk }, ...scopeIs(current) }));
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
          }
        }),
      );
      return;
    }
  }

  async getConnection(workspaceId: string, connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: workspacePk(workspaceId), sk: connectionSk(connectionId) },
        // A subscribe a moment ago on this connection must decide the scope.
        ConsistentRead: true,
      }),
    );
    return Item ? toConnection(Item) : undefined;
  }

  async existingConnections(workspaceId: string, connectionIds: string[]): Promise<Set<string>> {
    const pk = workspacePk(workspaceId);
    const unique = [...new Set(connectionIds)];
    const found = new Set<string>();
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      const keys = unique.slice(start, start + BATCH_GET_LIMIT).map((id) => ({ pk, sk: connectionSk(id) }));
      for (const item of await this.batchGet(keys)) found.add(item.connectionId as string);
    }
    return found;
  }

  async putMemberships(workspaceId: string, userId: string, teams: string[], now: number): Promise<void> {
    const pk = workspacePk(workspaceId);
    // Rewritten on every connect, so it lives as long as the agent item it points to.
    const ttl = Math.ceil((now + this.agentRetentionMs) / 1000);
    await this.batchWrite(
      [...new Set(teams)].map((team) => ({ PutRequest: { Item: { pk, sk: teamMemberSk(team, userId), userId, ttl } } })),
    );
  }

  async deleteMemberships(workspaceId: string, userId: string, teams: string[]): Promise<void> {
    const pk = workspacePk(workspaceId);
    await this.batchWrite([...new Set(teams)].map((team) => ({ DeleteRequest: { Key: { pk, sk: teamMemberSk(team, userId) } } })));
  }

  async listTeamMembers(workspaceId: string, team: string): Promise<string[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':prefix': teamMemberPrefix(team) },
      ProjectionExpression: 'userId',
      // A member whose $connect just returned must be in the next subscriber's snapshot.
      ConsistentRead: true,
    });
    return items.map((item) => item.userId as string);
  }

  async getAgents(workspaceId: string, userIds: string[]): Promise<StoredAgent[]> {
    const pk = workspacePk(workspaceId);
    const unique = [...new Set(userIds)];
    const agents: StoredAgent[] = [];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      const keys = unique.slice(start, start + BATCH_GET_LIMIT).map((userId) => ({ pk, sk: agentSk(userId) }));
      for (const item of await this.batchGet(keys)) agents.push(toAgent(item));
    }
    return agents;
  }

  async deleteConnections(workspaceId: string, connectionIds: string[], known: ConnectionRecord[] = []): Promise<void> {
    const pk = workspacePk(workspaceId);
    const unique = [...new Set(connectionIds)];
    // Each item names the copies to delete with it; `known` names them for items already gone.
    const stored: ConnectionRecord[] = [];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      const keys = unique.slice(start, start + BATCH_GET_LIMIT).map((id) => ({ pk, sk: connectionSk(id) }));
      for (const item of await this.batchGet(keys)) stored.push(toConnection(item));
    }
    const sks = new Set(unique.map(connectionSk));
    for (const connection of [...stored, ...known.filter((record) => unique.includes(record.connectionId))]) {
      for (const sk of subscriberKeys(connection)) sks.add(sk);
    }
    await this.batchWrite([...sks].map((sk) => ({ DeleteRequest: { Key: { pk, sk } } })));
  }

  async listAudience(workspaceId: string, users: string[], teams: string[]): Promise<ConnectionRecord[]> {
    const prefixes = [WORKSPACE_SUBSCRIBER_PREFIX, ...[...new Set(users)].map(userSubscriberPrefix), ...[...new Set(teams)].map(teamSubscriberPrefix)];
    const byId = new Map<string, ConnectionRecord>();
    // A storm's batch names a hundred users and dozens of teams: a few Queries at a time.
    for (let start = 0; start < prefixes.length; start += QUERIES_IN_FLIGHT) {
      const pages = await Promise.all(prefixes.slice(start, start + QUERIES_IN_FLIGHT).map((prefix) => this.querySubscribers(workspaceId, prefix)));
      for (const connection of pages.flat()) byId.set(connection.connectionId, connection);
    }
    return [...byId.values()];
  }

  async listUserConnections(workspaceId: string, userId: string): Promise<ConnectionRecord[]> {
    return this.querySubscribers(workspaceId, userSubscriberPrefix(userId));
  }

  private async querySubscribers(workspaceId: string, prefix: string): Promise<ConnectionRecord[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':prefix': prefix },
      // A connection written a moment ago (its own $connect, a subscribe) must receive this delivery.
      ConsistentRead: true,
    });
    return items.map(toConnection);
  }

  async listConnections(workspaceId: string): Promise<ConnectionRecord[]> {
    const items = await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':prefix': CONNECTION_PREFIX },
      // A connection written a moment ago (its own $connect) must receive this fan-out.
      ConsistentRead: true,
    });
    return items.map(toConnection);
  }

  async getSettings(workspaceId: string): Promise<WorkspaceSettings | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: workspacePk(workspaceId), sk: SETTINGS_SK },
        ConsistentRead: true,
      }),
    );
    return Item ? toSettings(Item) : undefined;
  }

  /**
   * Both items in one request (BatchGetItem, consistent): every heartbeat needs them, and one
   * round trip instead of two halves the requests per beat. The read units are the same.
   */
  async getAgentWithSettings(
    workspaceId: string,
    userId: string,
  ): Promise<{ agent: StoredAgent | undefined; settings: WorkspaceSettings | undefined }> {
    const pk = workspacePk(workspaceId);
    const items = await this.batchGet([
      { pk, sk: agentSk(userId) },
      { pk, sk: SETTINGS_SK },
    ]);
    const agentItem = items.find((item) => item.sk !== SETTINGS_SK);
    const settingsItem = items.find((item) => item.sk === SETTINGS_SK);
    return { agent: agentItem ? toAgent(agentItem) : undefined, settings: settingsItem ? toSettings(settingsItem) : undefined };
  }

  async putSettings(workspaceId: string, settings: WorkspaceSettings): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: workspacePk(workspaceId),
          sk: SETTINGS_SK,
          idleTimeoutSeconds: settings.idleTimeoutSeconds,
          ...(settings.timezone ? { timezone: settings.timezone } : {}),
          ...(settings.changes?.length ? { changes: settings.changes } : {}),
          ...(settings.awayReasons?.length ? { awayReasons: settings.awayReasons } : {}),
          ...(settings.unavailableAfterSeconds !== undefined ? { unavailableAfterSeconds: settings.unavailableAfterSeconds } : {}),
        },
      }),
    );
  }

  async getRollup(workspaceId: string, userId: string, date: string): Promise<StoredRollup | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: workspacePk(workspaceId), sk: rollupSk(userId, date) }, ConsistentRead: true }),
    );
    return Item ? toRollup(Item) : undefined;
  }

  async putRollup(workspaceId: string, userId: string, rollup: StoredRollup, expectedVersion: number | undefined, expiresAt: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            pk: workspacePk(workspaceId),
            sk: rollupSk(userId, rollup.date),
            userId,
            date: rollup.date,
            timeZone: rollup.timeZone,
            online: rollup.ms.online,
            away: rollup.ms.away,
            offline: rollup.ms.offline,
            // A map key may not be empty: away time with no reason is kept under a key no id can be.
            awayMs: Object.fromEntries(Object.entries(rollup.awayMs).map(([key, ms]) => [key === '' ? NO_REASON_KEY : key, ms])),
            lastAt: rollup.lastAt,
            lastStatus: rollup.lastStatus,
            ...(rollup.lastAwayReason !== '' ? { lastAwayReason: rollup.lastAwayReason } : {}),
            lastVersion: rollup.lastVersion,
            [TABLE.ttlAttribute]: Math.ceil(expiresAt / 1000),
          },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(sk)' }
            : { ConditionExpression: 'lastVersion = :expected', ExpressionAttributeValues: { ':expected': expectedVersion } }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async listRollups(workspaceId: string, userId: string, fromDate: string, toDate: string): Promise<{ before?: StoredRollup | undefined; days: StoredRollup[] }> {
    const pk = workspacePk(workspaceId);
    const [range, earlier] = await Promise.all([
      this.queryAll({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': pk, ':from': rollupSk(userId, fromDate), ':to': rollupSk(userId, toDate) },
        ConsistentRead: true,
      }),
      // The day before the range: the latest key below its first date (BETWEEN includes the first date itself).
      this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
          ExpressionAttributeValues: { ':pk': pk, ':low': rollupPrefix(userId), ':high': rollupSk(userId, fromDate) },
          ScanIndexForward: false,
          Limit: 2,
          ConsistentRead: true,
        }),
      ),
    ]);
    const before = (earlier.Items ?? []).map(toRollup).find((rollup) => rollup.date < fromDate);
    return { ...(before ? { before } : {}), days: range.map(toRollup) };
  }

  async recordHistory(workspaceId: string, entries: HistoryEntry[], expiresAt: (entry: HistoryEntry) => number): Promise<void> {
    const pk = workspacePk(workspaceId);
    const items = entries.map((entry) => ({
      pk,
      sk: historySk(entry.userId, entry.at, entry.version),
      ...entry,
      [TABLE.ttlAttribute]: Math.ceil(expiresAt(entry) / 1000),
    }));
    await this.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
  }

  async lastHistoryBefore(workspaceId: string, userId: string, before: number): Promise<HistoryEntry | undefined> {
    const { Items = [] } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
        ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':low': historyPrefix(userId), ':high': historyBound(userId, before) },
        ScanIndexForward: false,
        // The bound (`before` itself, no version) sorts before every entry at `before`: the first one found is older.
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return Items[0] ? toHistoryEntry(Items[0]) : undefined;
  }

  async listHistory(
    workspaceId: string,
    userId: string,
    range: { from: number; to: number; limit: number; after?: string | undefined },
  ): Promise<{ entries: HistoryEntry[]; next?: string | undefined }> {
    if (range.after !== undefined && !range.after.startsWith(historyPrefix(userId))) {
      throw new InvalidRequestError('next is not a cursor of this user\'s history');
    }
    const { Items = [], LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': workspacePk(workspaceId),
          // Keys sort by time: from `from` (inclusive) to just before `to`.
          ':from': historyBound(userId, range.from),
          ':to': historyBound(userId, range.to - 1) + '#~',
        },
        ...(range.after ? { ExclusiveStartKey: { pk: workspacePk(workspaceId), sk: range.after } } : {}),
        Limit: range.limit,
        ConsistentRead: true,
      }),
    );
    const entries = Items.map(toHistoryEntry);
    return LastEvaluatedKey ? { entries, next: LastEvaluatedKey.sk as string } : { entries };
  }

  /**
   * Consistent BatchGetItem of at most 100 keys: unprocessed keys are asked for again, and after
   * BATCH_GET_ROUNDS rounds read one GetItem each. Missing items are simply absent.
   */
  private async batchGet(keys: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let pending = keys;
    for (let round = 0; pending.length > 0 && round < BATCH_GET_ROUNDS; round++) {
      const { Responses, UnprocessedKeys } = await this.client.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(Responses?.[this.tableName] ?? []));
      pending = (UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
    }
    if (pending.length > 0) {
      const rest = await Promise.all(
        pending.map((Key) => this.client.send(new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }))),
      );
      for (const { Item } of rest) if (Item) items.push(Item);
    }
    return items;
  }

  /** BatchWriteItem in groups of 25, asking again for unprocessed items with a capped backoff. */
  private async batchWrite(requests: NonNullable<BatchWriteCommandInput['RequestItems']>[string]): Promise<void> {
    for (let start = 0; start < requests.length; start += BATCH_WRITE_LIMIT) {
      let pending = requests.slice(start, start + BATCH_WRITE_LIMIT);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
        if (attempt > 8) throw new Error(`could not write ${pending.length} items`);
        const result = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = result.UnprocessedItems?.[this.tableName] ?? [];
      }
    }
  }

  /** Follows LastEvaluatedKey to the end. */
  private async queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...input, ExclusiveStartKey, ...(this.pageSize ? { Limit: this.pageSize } : {}) }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }
}
