/** Team membership items: which users are in a team, for a subscriber's snapshot of the team. */
import { teamMemberPrefix, teamMemberSk, workspacePk } from '#adapters/keys.ts';
import { queryWorkspacePrefix, type TableAccess } from './access.ts';
import type { AgentItemOptions } from './agent-item.ts';
import { batchWrite } from './batch.ts';

export async function putMemberships(
  table: TableAccess & Pick<AgentItemOptions, 'agentRetentionMs'>,
  workspaceId: string,
  userId: string,
  teams: string[],
  now: number,
): Promise<void> {
  const pk = workspacePk(workspaceId);
  // Rewritten on every connect, so it lives as long as the agent item it points to.
  const ttl = Math.ceil((now + table.agentRetentionMs) / 1000);
  await batchWrite(
    table,
    [...new Set(teams)].map((team) => ({ PutRequest: { Item: { pk, sk: teamMemberSk(team, userId), userId, ttl } } })),
  );
}

export async function deleteMemberships(table: TableAccess, workspaceId: string, userId: string, teams: string[]): Promise<void> {
  const pk = workspacePk(workspaceId);
  await batchWrite(table, [...new Set(teams)].map((team) => ({ DeleteRequest: { Key: { pk, sk: teamMemberSk(team, userId) } } })));
}

export async function listTeamMembers(table: TableAccess, workspaceId: string, team: string): Promise<string[]> {
  // A member whose $connect just returned must be in the next subscriber's snapshot.
  const items = await queryWorkspacePrefix(table, workspaceId, teamMemberPrefix(team), { ProjectionExpression: 'userId' });
  return items.map((item) => item.userId as string);
}
