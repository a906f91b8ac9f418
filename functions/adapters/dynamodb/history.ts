/** History items: one per committed transition, under its user, ordered by time (see keys.ts). */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { HistoryEntry } from '#domain/history.ts';
import { InvalidRequestError } from '#app/errors.ts';
import { historyBound, historyPrefix, historySk, workspacePk } from '#adapters/keys.ts';
import { TABLE } from '#adapters/table.ts';
import type { TableAccess, TableItem } from './access.ts';
import { batchWrite } from './batch.ts';

function toHistoryEntry(item: TableItem): HistoryEntry {
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

export async function recordHistory(table: TableAccess, workspaceId: string, entries: HistoryEntry[], expiresAt: (entry: HistoryEntry) => number): Promise<void> {
  const pk = workspacePk(workspaceId);
  const items = entries.map((entry) => ({
    pk,
    sk: historySk(entry.userId, entry.at, entry.version),
    ...entry,
    [TABLE.ttlAttribute]: Math.ceil(expiresAt(entry) / 1000),
  }));
  await batchWrite(table, items.map((Item) => ({ PutRequest: { Item } })));
}

export async function lastHistoryBefore(table: TableAccess, workspaceId: string, userId: string, before: number): Promise<HistoryEntry | undefined> {
  const { Items = [] } = await table.client.send(
    new QueryCommand({
      TableName: table.tableName,
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

export async function listHistory(
  table: TableAccess,
  workspaceId: string,
  userId: string,
  range: { from: number; to: number; limit: number; after?: string | undefined },
): Promise<{ entries: HistoryEntry[]; next?: string | undefined }> {
  if (range.after !== undefined && !range.after.startsWith(historyPrefix(userId))) {
    throw new InvalidRequestError('next is not a cursor of this user\'s history');
  }
  const { Items = [], LastEvaluatedKey } = await table.client.send(
    new QueryCommand({
      TableName: table.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': workspacePk(workspaceId),
        // Keys sort by time: from `from` (inclusive) to just before `to`.
        ':from': historyBound(userId, range.from),
        ':to': `${historyBound(userId, range.to - 1)}#~`,
      },
      ...(range.after ? { ExclusiveStartKey: { pk: workspacePk(workspaceId), sk: range.after } } : {}),
      Limit: range.limit,
      ConsistentRead: true,
    }),
  );
  const entries = Items.map(toHistoryEntry);
  return LastEvaluatedKey ? { entries, next: LastEvaluatedKey.sk as string } : { entries };
}
