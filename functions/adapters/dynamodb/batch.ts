/** Batch reads and writes of any number of items, asking again for what DynamoDB left unprocessed. */
import type { BatchWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { TableAccess, TableItem } from './access.ts';

const BATCH_WRITE_LIMIT = 25;
const BATCH_GET_LIMIT = 100;
/** BatchGetItem may leave keys unprocessed under throttling; after this many rounds, one Get each. */
const BATCH_GET_ROUNDS = 3;

type WriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

/** Consistent reads of any number of keys, 100 per BatchGetItem, one group after another. Missing items are simply absent. */
export async function batchGet(table: TableAccess, keys: TableItem[]): Promise<TableItem[]> {
  const items: TableItem[] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
    items.push(...(await batchGetGroup(table, keys.slice(start, start + BATCH_GET_LIMIT))));
  }
  return items;
}

/**
 * Consistent BatchGetItem of at most 100 keys: unprocessed keys are asked for again, and after
 * BATCH_GET_ROUNDS rounds read one GetItem each.
 */
async function batchGetGroup(table: TableAccess, keys: TableItem[]): Promise<TableItem[]> {
  const { client, tableName } = table;
  const items: TableItem[] = [];
  let pending = keys;
  for (let round = 0; pending.length > 0 && round < BATCH_GET_ROUNDS; round++) {
    const { Responses, UnprocessedKeys } = await client.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }));
    items.push(...(Responses?.[tableName] ?? []));
    pending = (UnprocessedKeys?.[tableName]?.Keys ?? []) as TableItem[];
  }
  if (pending.length > 0) {
    const rest = await Promise.all(pending.map((Key) => client.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }))));
    for (const { Item } of rest) if (Item) items.push(Item);
  }
  return items;
}

/** BatchWriteItem in groups of 25, asking again for unprocessed items with a capped backoff. */
export async function batchWrite(table: TableAccess, requests: WriteRequest[]): Promise<void> {
  const { client, tableName } = table;
  for (let start = 0; start < requests.length; start += BATCH_WRITE_LIMIT) {
    let pending = requests.slice(start, start + BATCH_WRITE_LIMIT);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      if (attempt > 8) throw new Error(`could not write ${pending.length} items`);
      const result = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = result.UnprocessedItems?.[tableName] ?? [];
    }
  }
}
