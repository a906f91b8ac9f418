/**
 * The store's table access (adapters/dynamodb/access.ts) on a fake client: a query is followed to
 * its last page, each page at most the store's page size; and of the errors a conditional write
 * can end with, only a refused condition counts as one (alone, or as a cancelled transaction's
 * reason). Conditional saves losing to another writer run on DynamoDB Local (protocol.test.ts,
 * concurrent-disconnects.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, queryAll, queryPages } from '#adapters/dynamodb/access.ts';

/** Answers each Query with the next of `pages`, each continuing to the next, and records its input. */
function pagedClient(pages: Record<string, unknown>[][]) {
  const inputs: QueryCommandInput[] = [];
  const send = async (command: unknown) => {
    if (!(command instanceof QueryCommand)) throw new Error('only queries');
    inputs.push(command.input);
    const index = inputs.length - 1;
    return { Items: pages[index], ...(index < pages.length - 1 ? { LastEvaluatedKey: { pk: 'p', sk: `after-${index}` } } : {}) };
  };
  return { client: { send } as unknown as DynamoDBDocumentClient, inputs };
}

describe('queryAll', () => {
  it('follows LastEvaluatedKey to the last page, each page at most the page size it is given', async () => {
    const { client, inputs } = pagedClient([[{ n: 1 }, { n: 2 }], [{ n: 3 }, { n: 4 }], [{ n: 5 }]]);
    const items = await queryAll({ client, tableName: 'presence-unit', pageSize: 2 }, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'p' } });
    expect(items).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
    expect(inputs.map((input) => [input.TableName, input.Limit, input.ExclusiveStartKey?.sk, input.KeyConditionExpression])).toEqual([
      ['presence-unit', 2, undefined, 'pk = :pk'],
      ['presence-unit', 2, 'after-0', 'pk = :pk'],
      ['presence-unit', 2, 'after-1', 'pk = :pk'],
    ]);
  });

  it('leaves the page size to DynamoDB when the store has none', async () => {
    const { client, inputs } = pagedClient([[], [{ n: 1 }]]);
    expect(await queryAll({ client, tableName: 'presence-unit', pageSize: undefined }, { KeyConditionExpression: 'pk = :pk' })).toEqual([{ n: 1 }]);
    expect(inputs.map((input) => input.Limit)).toEqual([undefined, undefined]);
  });

  it("a query's own Limit sets its pages instead of the store's page size", async () => {
    const { client, inputs } = pagedClient([[{ n: 1 }]]);
    await queryAll({ client, tableName: 'presence-unit', pageSize: 2 }, { KeyConditionExpression: 'pk = :pk', Limit: 31 });
    expect(inputs.map((input) => input.Limit)).toEqual([31]);
  });

  it('queryPages hands over each page as it arrives (the sweep works page by page), skipping empty ones', async () => {
    const { client, inputs } = pagedClient([[{ n: 1 }, { n: 2 }], [], [{ n: 3 }]]);
    const seen: Array<{ page: unknown[]; requests: number }> = [];
    for await (const page of queryPages({ client, tableName: 'presence-unit', pageSize: 2 }, { KeyConditionExpression: 'pk = :pk' })) {
      seen.push({ page, requests: inputs.length });
    }
    expect(seen).toEqual([
      { page: [{ n: 1 }, { n: 2 }], requests: 1 },
      { page: [{ n: 3 }], requests: 3 },
    ]);
  });
});

describe('isConditionFailure', () => {
  const $metadata = {};
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({ message: 'cancelled', $metadata, CancellationReasons: codes.map((Code) => ({ Code })) });

  it('is a refused condition, alone or as one of the reasons a transaction was cancelled', () => {
    expect(isConditionFailure(new ConditionalCheckFailedException({ message: 'refused', $metadata }))).toBe(true);
    expect(isConditionFailure(cancelled('ConditionalCheckFailed', 'None'))).toBe(true);
    expect(isConditionFailure(cancelled('None', 'ConditionalCheckFailed'))).toBe(true);
  });

  it('is not a transaction cancelled for anything else, nor any other error', () => {
    expect(isConditionFailure(cancelled('TransactionConflict', 'None'))).toBe(false);
    expect(isConditionFailure(new TransactionCanceledException({ message: 'cancelled', $metadata }))).toBe(false);
    expect(isConditionFailure(new Error('network'))).toBe(false);
  });
});
