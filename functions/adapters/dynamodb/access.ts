/**
 * How the store's modules reach the table: the client and table name they are all given, queries
 * followed to their last page, and conditional writes told apart from failures.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, type PutCommandInput, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { workspacePk } from '#adapters/keys.ts';

export type TableItem = Record<string, unknown>;

export interface TableAccess {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Items per query page (DynamoDB's 1 MB page when omitted); bounds memory of a sweep. */
  readonly pageSize: number | undefined;
}

/**
 * A query's pages, following LastEvaluatedKey to the end (or until the caller stops), each at most
 * the input's Limit, else the table's page size.
 */
export async function* queryPages(table: TableAccess, input: Omit<QueryCommandInput, 'TableName'>): AsyncIterable<TableItem[]> {
  const limit = input.Limit ?? table.pageSize;
  let ExclusiveStartKey: TableItem | undefined;
  do {
    const page = await table.client.send(new QueryCommand({ TableName: table.tableName, ...input, ExclusiveStartKey, ...(limit ? { Limit: limit } : {}) }));
    if (page.Items?.length) yield page.Items;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
}

/** Every item a query finds, from all its pages. */
export async function queryAll(table: TableAccess, input: Omit<QueryCommandInput, 'TableName'>): Promise<TableItem[]> {
  const items: TableItem[] = [];
  for await (const page of queryPages(table, input)) items.push(...page);
  return items;
}

/**
 * Every item of a workspace's partition whose sort key starts with `prefix`, read consistently:
 * an item written a moment ago (a $connect, a subscribe) is in the answer.
 */
export function queryWorkspacePrefix(
  table: TableAccess,
  workspaceId: string,
  prefix: string,
  options: Pick<QueryCommandInput, 'ProjectionExpression'> = {},
): Promise<TableItem[]> {
  return queryAll(table, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':prefix': prefix },
    ConsistentRead: true,
    ...options,
  });
}

/** A Put with a condition: false when the condition refused it, true when written. */
export async function putIf(table: TableAccess, input: Omit<PutCommandInput, 'TableName'>): Promise<boolean> {
  try {
    await table.client.send(new PutCommand({ TableName: table.tableName, ...input }));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** A write refused by its condition: alone, or as the reason a transaction was cancelled. */
export function isConditionFailure(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return true;
  const reasons = (error as { name?: string; CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  return (error as { name?: string }).name === 'TransactionCanceledException' && (reasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed');
}
