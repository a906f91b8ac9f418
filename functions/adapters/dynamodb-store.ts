/**
 * The presence store on DynamoDB (DocumentClient), following the single-table model in table.ts.
 * Each kind of item has its module under dynamodb/; this class gives them the table and answers
 * the port.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Agent, Status, Transition, UnavailableNotice } from '#domain/agent.ts';
import type { HistoryEntry } from '#domain/history.ts';
import type { ConnectionRecord, PresenceStore, StoredAgent, StoredRollup, WorkspaceSettings } from '#app/ports.ts';
import { TABLE } from '#adapters/table.ts';
import type { TableAccess } from '#adapters/dynamodb/access.ts';
import type { AgentItemOptions } from '#adapters/dynamodb/agent-item.ts';
import * as agents from '#adapters/dynamodb/agents.ts';
import * as connections from '#adapters/dynamodb/connections.ts';
import * as history from '#adapters/dynamodb/history.ts';
import * as memberships from '#adapters/dynamodb/memberships.ts';
import * as rollups from '#adapters/dynamodb/rollups.ts';
import * as settings from '#adapters/dynamodb/settings.ts';
import * as subscribers from '#adapters/dynamodb/subscribers.ts';

export interface DynamoDbStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long an agent item lives after its last write before TTL may collect it. */
  agentRetentionMs: number;
  deadlineShards?: number;
  /** Items per query page (DynamoDB's 1 MB page when omitted); bounds memory of a sweep. */
  pageSize?: number;
}

export class DynamoDbPresenceStore implements PresenceStore {
  readonly deadlineShards: number;
  private readonly table: TableAccess & AgentItemOptions;

  constructor(options: DynamoDbStoreOptions) {
    this.deadlineShards = options.deadlineShards ?? TABLE.deadlineShards;
    this.table = {
      client: options.client,
      tableName: options.tableName,
      pageSize: options.pageSize,
      agentRetentionMs: options.agentRetentionMs,
      deadlineShards: this.deadlineShards,
    };
  }

  async saveAgent(agent: Agent, dueAt: number | null, now: number, changes: Transition[] = [], notices: UnavailableNotice[] = []): Promise<boolean> {
    return agents.saveAgent(this.table, agent, dueAt, now, changes, notices);
  }

  async listAgents(workspaceId: string): Promise<StoredAgent[]> {
    return agents.listAgents(this.table, workspaceId);
  }

  async listByStatus(workspaceId: string, status: Exclude<Status, 'offline'>): Promise<StoredAgent[]> {
    return agents.listByStatus(this.table, workspaceId, status);
  }

  dueAgents(shard: number, now: number): AsyncIterable<StoredAgent[]> {
    return agents.dueAgents(this.table, shard, now);
  }

  async getAgents(workspaceId: string, userIds: string[]): Promise<StoredAgent[]> {
    return agents.getAgents(this.table, workspaceId, userIds);
  }

  async getAgentWithSettings(workspaceId: string, userId: string): Promise<{ agent: StoredAgent | undefined; settings: WorkspaceSettings | undefined }> {
    return agents.getAgentWithSettings(this.table, workspaceId, userId);
  }

  async putConnection(workspaceId: string, connection: ConnectionRecord, options: { onlyIfAbsent?: boolean } = {}): Promise<void> {
    return connections.putConnection(this.table, workspaceId, connection, options);
  }

  async setScope(workspaceId: string, connection: ConnectionRecord): Promise<void> {
    return connections.setScope(this.table, workspaceId, connection);
  }

  async getConnection(workspaceId: string, connectionId: string): Promise<ConnectionRecord | undefined> {
    return connections.getConnection(this.table, workspaceId, connectionId);
  }

  async existingConnections(workspaceId: string, connectionIds: string[]): Promise<Set<string>> {
    return connections.existingConnections(this.table, workspaceId, connectionIds);
  }

  async deleteConnections(workspaceId: string, connectionIds: string[], known: ConnectionRecord[] = []): Promise<void> {
    return connections.deleteConnections(this.table, workspaceId, connectionIds, known);
  }

  async listAudience(workspaceId: string, users: string[], teams: string[]): Promise<ConnectionRecord[]> {
    return subscribers.listAudience(this.table, workspaceId, users, teams);
  }

  async listUserConnections(workspaceId: string, userId: string): Promise<ConnectionRecord[]> {
    return subscribers.listUserConnections(this.table, workspaceId, userId);
  }

  async listConnections(workspaceId: string): Promise<ConnectionRecord[]> {
    return subscribers.listConnections(this.table, workspaceId);
  }

  async putMemberships(workspaceId: string, userId: string, teams: string[], now: number): Promise<void> {
    return memberships.putMemberships(this.table, workspaceId, userId, teams, now);
  }

  async deleteMemberships(workspaceId: string, userId: string, teams: string[]): Promise<void> {
    return memberships.deleteMemberships(this.table, workspaceId, userId, teams);
  }

  async listTeamMembers(workspaceId: string, team: string): Promise<string[]> {
    return memberships.listTeamMembers(this.table, workspaceId, team);
  }

  async getSettings(workspaceId: string): Promise<WorkspaceSettings | undefined> {
    return settings.getSettings(this.table, workspaceId);
  }

  async putSettings(workspaceId: string, workspaceSettings: WorkspaceSettings): Promise<void> {
    return settings.putSettings(this.table, workspaceId, workspaceSettings);
  }

  async getRollup(workspaceId: string, userId: string, date: string): Promise<StoredRollup | undefined> {
    return rollups.getRollup(this.table, workspaceId, userId, date);
  }

  async putRollup(workspaceId: string, userId: string, rollup: StoredRollup, expectedVersion: number | undefined, expiresAt: number): Promise<boolean> {
    return rollups.putRollup(this.table, workspaceId, userId, rollup, expectedVersion, expiresAt);
  }

  async listRollups(workspaceId: string, userId: string, fromDate: string, toDate: string): Promise<{ before?: StoredRollup | undefined; days: StoredRollup[] }> {
    return rollups.listRollups(this.table, workspaceId, userId, fromDate, toDate);
  }

  async recordHistory(workspaceId: string, entries: HistoryEntry[], expiresAt: (entry: HistoryEntry) => number): Promise<void> {
    return history.recordHistory(this.table, workspaceId, entries, expiresAt);
  }

  async lastHistoryBefore(workspaceId: string, userId: string, before: number): Promise<HistoryEntry | undefined> {
    return history.lastHistoryBefore(this.table, workspaceId, userId, before);
  }

  async listHistory(
    workspaceId: string,
    userId: string,
    range: { from: number; to: number; limit: number; after?: string | undefined },
  ): Promise<{ entries: HistoryEntry[]; next?: string | undefined }> {
    return history.listHistory(this.table, workspaceId, userId, range);
  }
}
