/**
 * An in-memory PresenceStore with the semantics the use cases rely on from DynamoDB: consistent
 * reads, a conditional put on `version`, the sparse status and deadline indexes, and connection
 * items per workspace. It is a test double for fast property runs; the same runs go against the
 * real DynamoDbPresenceStore on DynamoDB Local (see test/integration/model.test.ts).
 */
import { type Agent, type Transition, type UnavailableNotice, versionAfter } from '#domain/agent.ts';
import type { HistoryEntry } from '#domain/history.ts';
import type { ConnectionRecord, PresenceStore, StoredAgent, StoredRollup, WorkspaceSettings } from '#app/ports.ts';

const key = (workspaceId: string, id: string) => `${workspaceId}\u0000${id}`;

export class MemoryPresenceStore implements PresenceStore {
  readonly deadlineShards = 1;
  private readonly agents = new Map<string, StoredAgent>();
  private readonly connections = new Map<string, ConnectionRecord & { workspaceId: string }>();
  private readonly settings = new Map<string, WorkspaceSettings>();
  /** workspace, team -> user ids */
  private readonly memberships = new Map<string, Set<string>>();

  async getAgentWithSettings(workspaceId: string, userId: string) {
    const agent = this.agents.get(key(workspaceId, userId));
    return { agent: agent ? (structuredClone(agent) as StoredAgent) : undefined, settings: await this.getSettings(workspaceId) };
  }

  async saveAgent(agent: Agent, dueAt: number | null, _now: number, changes: Transition[] = [], _notices: UnavailableNotice[] = []): Promise<boolean> {
    const k = key(agent.workspaceId, agent.userId);
    const current = this.agents.get(k);
    if ((current?.version ?? 0) !== agent.version) return false;
    this.agents.set(k, { ...structuredClone(agent), version: versionAfter(agent.version, changes.length), dueAt });
    return true;
  }

  private byWorkspace(workspaceId: string): StoredAgent[] {
    return [...this.agents.values()]
      .filter((agent) => agent.workspaceId === workspaceId)
      .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
      .map((agent) => structuredClone(agent));
  }

  async listAgents(workspaceId: string): Promise<StoredAgent[]> {
    return this.byWorkspace(workspaceId);
  }

  async getAgents(workspaceId: string, userIds: string[]): Promise<StoredAgent[]> {
    const wanted = new Set(userIds);
    return this.byWorkspace(workspaceId).filter((agent) => wanted.has(agent.userId));
  }

  async putMemberships(workspaceId: string, userId: string, teams: string[], _now: number): Promise<void> {
    for (const team of teams) {
      const members = this.memberships.get(key(workspaceId, team)) ?? new Set<string>();
      members.add(userId);
      this.memberships.set(key(workspaceId, team), members);
    }
  }

  async deleteMemberships(workspaceId: string, userId: string, teams: string[]): Promise<void> {
    for (const team of teams) this.memberships.get(key(workspaceId, team))?.delete(userId);
  }

  async listTeamMembers(workspaceId: string, team: string): Promise<string[]> {
    return [...(this.memberships.get(key(workspaceId, team)) ?? [])];
  }

  async listByStatus(workspaceId: string, status: 'online' | 'away'): Promise<StoredAgent[]> {
    return this.byWorkspace(workspaceId).filter((agent) => agent.status === status);
  }

  async *dueAgents(_shard: number, now: number): AsyncIterable<StoredAgent[]> {
    const due = [...this.agents.values()]
      .filter((agent) => agent.dueAt !== null && agent.dueAt <= now)
      .sort((a, b) => (a.dueAt ?? 0) - (b.dueAt ?? 0))
      .map((agent) => structuredClone(agent));
    if (due.length > 0) yield due;
  }

  async putConnection(workspaceId: string, connection: ConnectionRecord, options: { onlyIfAbsent?: boolean } = {}): Promise<void> {
    const k = key(workspaceId, connection.connectionId);
    if (options.onlyIfAbsent && this.connections.has(k)) return;
    this.connections.set(k, { ...connection, scope: connection.scope ?? null, workspaceId });
  }

  async setScope(workspaceId: string, connection: ConnectionRecord): Promise<void> {
    await this.putConnection(workspaceId, connection);
  }

  /** The index DynamoDB keeps, derived: own connections, the teams' subscribers, the workspace's followers. */
  async listAudience(workspaceId: string, users: string[], teams: string[]): Promise<ConnectionRecord[]> {
    return (await this.listConnections(workspaceId)).filter(
      (connection) => users.includes(connection.userId) || !connection.scope || connection.scope.some((team) => teams.includes(team)),
    );
  }

  async listUserConnections(workspaceId: string, userId: string): Promise<ConnectionRecord[]> {
    return (await this.listConnections(workspaceId)).filter((connection) => connection.userId === userId);
  }

  async existingConnections(workspaceId: string, connectionIds: string[]): Promise<Set<string>> {
    return new Set(connectionIds.filter((id) => this.connections.has(key(workspaceId, id))));
  }

  async getConnection(workspaceId: string, connectionId: string): Promise<ConnectionRecord | undefined> {
    const found = this.connections.get(key(workspaceId, connectionId));
    if (!found) return undefined;
    const { workspaceId: _workspace, ...connection } = found;
    return structuredClone(connection);
  }

  async deleteConnections(workspaceId: string, connectionIds: string[]): Promise<void> {
    for (const id of connectionIds) this.connections.delete(key(workspaceId, id));
  }

  async listConnections(workspaceId: string): Promise<ConnectionRecord[]> {
    return [...this.connections.values()]
      .filter((connection) => connection.workspaceId === workspaceId)
      .sort((a, b) => (a.connectionId < b.connectionId ? -1 : 1))
      .map(({ connectionId, userId, connectedAt, scope, expiresAt }) => ({
        connectionId,
        userId,
        connectedAt,
        scope: scope ?? null,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      }));
  }

  async getSettings(workspaceId: string): Promise<WorkspaceSettings | undefined> {
    const settings = this.settings.get(workspaceId);
    return settings ? { ...settings } : undefined;
  }

  async putSettings(workspaceId: string, settings: WorkspaceSettings): Promise<void> {
    this.settings.set(workspaceId, { ...settings });
  }

  /** workspace#user#date -> rollup. */
  private readonly rollups = new Map<string, StoredRollup>();

  async getRollup(workspaceId: string, userId: string, date: string): Promise<StoredRollup | undefined> {
    const rollup = this.rollups.get(`${workspaceId}#${userId}#${date}`);
    return rollup ? structuredClone(rollup) : undefined;
  }

  async putRollup(workspaceId: string, userId: string, rollup: StoredRollup, expectedVersion: number | undefined): Promise<boolean> {
    const key = `${workspaceId}#${userId}#${rollup.date}`;
    if (this.rollups.get(key)?.lastVersion !== expectedVersion) return false;
    this.rollups.set(key, structuredClone(rollup));
    return true;
  }

  async listRollups(workspaceId: string, userId: string, fromDate: string, toDate: string) {
    const prefix = `${workspaceId}#${userId}#`;
    const mine = [...this.rollups].filter(([key]) => key.startsWith(prefix)).map(([, rollup]) => structuredClone(rollup)).sort((a, b) => a.date.localeCompare(b.date));
    const before = mine.filter((rollup) => rollup.date < fromDate).at(-1);
    return { ...(before ? { before } : {}), days: mine.filter((rollup) => rollup.date >= fromDate && rollup.date <= toDate) };
  }

  /** workspace -> key (user, version) -> entry: rewriting an entry replaces it, as on DynamoDB. */
  private readonly history = new Map<string, Map<string, HistoryEntry>>();

  async recordHistory(workspaceId: string, entries: HistoryEntry[]): Promise<void> {
    const kept = this.history.get(workspaceId) ?? new Map<string, HistoryEntry>();
    for (const entry of entries) kept.set(`${entry.userId}#${entry.version}`, { ...entry });
    this.history.set(workspaceId, kept);
  }

  async lastHistoryBefore(workspaceId: string, userId: string, before: number): Promise<HistoryEntry | undefined> {
    const older = [...(this.history.get(workspaceId)?.values() ?? [])]
      .filter((entry) => entry.userId === userId && entry.at < before)
      .sort((a, b) => a.at - b.at || a.version - b.version);
    const last = older.at(-1);
    return last ? { ...last } : undefined;
  }

  async listHistory(workspaceId: string, userId: string, range: { from: number; to: number; limit: number; after?: string | undefined }) {
    const all = [...(this.history.get(workspaceId)?.values() ?? [])]
      .filter((entry) => entry.userId === userId && entry.at >= range.from && entry.at < range.to)
      .sort((a, b) => a.at - b.at || a.version - b.version);
    const start = range.after === undefined ? 0 : Number(range.after);
    const entries = all.slice(start, start + range.limit).map((entry) => ({ ...entry }));
    return start + range.limit < all.length ? { entries, next: String(start + range.limit) } : { entries };
  }
}
