/** Connection items with their subscriber-index copies: writes that keep the copies matching the item, and reads by id. */
import { DeleteCommand, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { ConnectionRecord } from '#app/ports.ts';
import { connectionSk, workspacePk } from '#adapters/keys.ts';
import { isConditionFailure, type TableAccess } from './access.ts';
import { batchGet, batchWrite } from './batch.ts';
import { connectionItems, subscriberKeys, toConnection } from './connection-item.ts';

/** Subscribes racing on one connection: each loser reads the winner's scope and tries again. */
const SCOPE_ATTEMPTS = 8;

/** A condition that the item holds this connection's scope (or, for none, that the item is absent). */
function scopeIs(connection: ConnectionRecord | undefined) {
  if (!connection) return { ConditionExpression: 'attribute_not_exists(pk)' };
  if (connection.scope) {
    return { ConditionExpression: '#scope = :scope', ExpressionAttributeNames: { '#scope': 'scope' }, ExpressionAttributeValues: { ':scope': connection.scope } };
  }
  return { ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#scope)', ExpressionAttributeNames: { '#scope': 'scope' } };
}

export async function putConnection(table: TableAccess, workspaceId: string, connection: ConnectionRecord, options: { onlyIfAbsent?: boolean }): Promise<void> {
  const { client, tableName } = table;
  const [item, ...copies] = connectionItems(workspaceId, connection);
  if (!options.onlyIfAbsent) {
    await batchWrite(table, [item, ...copies].map((Item) => ({ PutRequest: { Item } })));
    return;
  }
  // All or nothing: an existing item holds a scope its copies must keep.
  try {
    await client.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
          ...copies.map((Item) => ({ Put: { TableName: tableName, Item } })),
        ],
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) return;
    throw error;
  }
}

export async function setScope(table: TableAccess, workspaceId: string, connection: ConnectionRecord): Promise<void> {
  const { client, tableName } = table;
  const pk = workspacePk(workspaceId);
  // First as a connection that still follows the whole workspace (a subscribe right after
  // $connect, the common case), without reading it; after a condition failure, as it is.
  let current: ConnectionRecord | undefined = { ...connection, scope: null };
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) current = await getConnection(table, workspaceId, connection.connectionId);
    const [item, ...copies] = connectionItems(workspaceId, connection);
    const keep = new Set(copies.map((copy) => copy.sk as string));
    const stale = current ? subscriberKeys(current).filter((sk) => !keep.has(sk)) : [];
    // The new copies first, so from the moment the item holds the new scope the index has it.
    await batchWrite(table, copies.map((Item) => ({ PutRequest: { Item } })));
    try {
      // Only if nobody changed the scope since it was read.
      await client.send(new PutCommand({ TableName: tableName, Item: item, ...scopeIs(current) }));
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
          await client.send(new DeleteCommand({ TableName: tableName, Key: { pk, sk }, ...scopeIs(current) }));
        } catch (error) {
          if (!isConditionFailure(error)) throw error;
        }
      }),
    );
    return;
  }
}

export async function getConnection(table: TableAccess, workspaceId: string, connectionId: string): Promise<ConnectionRecord | undefined> {
  const { Item } = await table.client.send(
    new GetCommand({
      TableName: table.tableName,
      Key: { pk: workspacePk(workspaceId), sk: connectionSk(connectionId) },
      // A subscribe a moment ago on this connection must decide the scope.
      ConsistentRead: true,
    }),
  );
  return Item ? toConnection(Item) : undefined;
}

export async function existingConnections(table: TableAccess, workspaceId: string, connectionIds: string[]): Promise<Set<string>> {
  const pk = workspacePk(workspaceId);
  const items = await batchGet(table, [...new Set(connectionIds)].map((id) => ({ pk, sk: connectionSk(id) })));
  return new Set(items.map((item) => item.connectionId as string));
}

export async function deleteConnections(table: TableAccess, workspaceId: string, connectionIds: string[], known: ConnectionRecord[]): Promise<void> {
  const pk = workspacePk(workspaceId);
  const unique = [...new Set(connectionIds)];
  // Each item names the copies to delete with it; `known` names them for items already gone.
  const stored = (await batchGet(table, unique.map((id) => ({ pk, sk: connectionSk(id) })))).map(toConnection);
  const sks = new Set(unique.map(connectionSk));
  for (const connection of [...stored, ...known.filter((record) => unique.includes(record.connectionId))]) {
    for (const sk of subscriberKeys(connection)) sks.add(sk);
  }
  await batchWrite(table, [...sks].map((sk) => ({ DeleteRequest: { Key: { pk, sk } } })));
}
