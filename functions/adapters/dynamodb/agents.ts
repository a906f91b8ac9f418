/** Agent items: the conditional save that commits an agent's changes and notices, and the reads of agents. */
import type { Agent, Status, Transition, UnavailableNotice } from '#domain/agent.ts';
import type { StoredAgent, WorkspaceSettings } from '#app/ports.ts';
import { AGENT_PREFIX, agentSk, duePk, SETTINGS_SK, statusPk, workspacePk } from '#adapters/keys.ts';
import { TABLE } from '#adapters/table.ts';
import { putIf, queryAll, queryPages, queryWorkspacePrefix, type TableAccess } from './access.ts';
import { type AgentItemOptions, toAgent, toAgentItem } from './agent-item.ts';
import { batchGet } from './batch.ts';
import { toSettings } from './settings.ts';

/** Writes the agent if its stored version is still `agent.version` (or, at version 0, if there is none). */
export async function saveAgent(
  table: TableAccess & AgentItemOptions,
  agent: Agent,
  dueAt: number | null,
  now: number,
  changes: Transition[],
  notices: UnavailableNotice[],
): Promise<boolean> {
  return putIf(table, {
    Item: toAgentItem(agent, dueAt, now, changes, notices, table),
    ...(agent.version === 0
      ? { ConditionExpression: 'attribute_not_exists(pk)' }
      : { ConditionExpression: 'version = :expected', ExpressionAttributeValues: { ':expected': agent.version } }),
  });
}

export async function listAgents(table: TableAccess, workspaceId: string): Promise<StoredAgent[]> {
  return (await queryWorkspacePrefix(table, workspaceId, AGENT_PREFIX)).map(toAgent);
}

export async function listByStatus(table: TableAccess, workspaceId: string, status: Exclude<Status, 'offline'>): Promise<StoredAgent[]> {
  const index = TABLE.indexes.byStatus;
  const items = await queryAll(table, {
    IndexName: index.name,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': index.partitionKey },
    ExpressionAttributeValues: { ':pk': statusPk(workspaceId, status) },
  });
  return items.map(toAgent);
}

export async function* dueAgents(table: TableAccess, shard: number, now: number): AsyncIterable<StoredAgent[]> {
  const index = TABLE.indexes.byDeadline;
  const pages = queryPages(table, {
    IndexName: index.name,
    KeyConditionExpression: '#pk = :pk AND #due <= :now',
    ExpressionAttributeNames: { '#pk': index.partitionKey, '#due': index.sortKey },
    ExpressionAttributeValues: { ':pk': duePk(shard), ':now': now },
  });
  for await (const page of pages) yield page.map(toAgent);
}

export async function getAgents(table: TableAccess, workspaceId: string, userIds: string[]): Promise<StoredAgent[]> {
  const pk = workspacePk(workspaceId);
  const items = await batchGet(table, [...new Set(userIds)].map((userId) => ({ pk, sk: agentSk(userId) })));
  return items.map(toAgent);
}

/**
 * Both items in one request (BatchGetItem, consistent): every heartbeat needs them, and one
 * round trip instead of two halves the requests per beat. The read units are the same.
 */
export async function getAgentWithSettings(
  table: TableAccess,
  workspaceId: string,
  userId: string,
): Promise<{ agent: StoredAgent | undefined; settings: WorkspaceSettings | undefined }> {
  const pk = workspacePk(workspaceId);
  const items = await batchGet(table, [
    { pk, sk: agentSk(userId) },
    { pk, sk: SETTINGS_SK },
  ]);
  const agentItem = items.find((item) => item.sk !== SETTINGS_SK);
  const settingsItem = items.find((item) => item.sk === SETTINGS_SK);
  return { agent: agentItem ? toAgent(agentItem) : undefined, settings: settingsItem ? toSettings(settingsItem) : undefined };
}
