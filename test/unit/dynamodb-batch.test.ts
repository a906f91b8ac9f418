/**
 * Batch reads and writes (adapters/dynamodb/batch.ts) on a fake client that leaves keys and items
 * unprocessed, as DynamoDB does under throttling: requests are grouped by the service's limits,
 * each group is asked again until done, and a write that never gets through gives up on a capped
 * backoff. The heartbeat's two-key read with unprocessed keys runs on DynamoDB Local in
 * store-batch-read.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { TableAccess, TableItem } from '#adapters/dynamodb/access.ts';
import { batchGet, batchWrite } from '#adapters/dynamodb/batch.ts';

const TABLE_NAME = 'presence-unit';

type Request = { name: 'BatchGet' | 'Get' | 'BatchWrite'; keys: string[] };

/** The sort keys of a key list or write requests, for short assertions. */
const sks = (items: TableItem[]) => items.map((item) => String(item.sk));

/**
 * Answers BatchGetItem, GetItem and BatchWriteItem from `stored`, recording each request by the
 * sort keys it names; `unprocess` says which of a batch request's keys or items to leave
 * unprocessed this time.
 */
function fakeTable(stored: Set<string>, unprocess: (sks: string[]) => Set<string>) {
  const requests: Request[] = [];
  const send = async (command: unknown) => {
    if (command instanceof BatchGetCommand) {
      const keys = command.input.RequestItems![TABLE_NAME]!.Keys! as TableItem[];
      requests.push({ name: 'BatchGet', keys: sks(keys) });
      const held = unprocess(sks(keys));
      const done = keys.filter((key) => !held.has(String(key.sk)));
      return {
        Responses: { [TABLE_NAME]: done.filter((key) => stored.has(String(key.sk))).map((key) => ({ ...key, found: true })) },
        ...(held.size > 0 ? { UnprocessedKeys: { [TABLE_NAME]: { Keys: keys.filter((key) => held.has(String(key.sk))) } } } : {}),
      };
    }
    if (command instanceof GetCommand) {
      const key = command.input.Key as TableItem;
      requests.push({ name: 'Get', keys: [String(key.sk)] });
      return stored.has(String(key.sk)) ? { Item: { ...key, found: true } } : {};
    }
    if (command instanceof BatchWriteCommand) {
      const writes = command.input.RequestItems![TABLE_NAME]!;
      const sk = (write: (typeof writes)[number]) => String((write.PutRequest?.Item ?? write.DeleteRequest?.Key)?.sk);
      requests.push({ name: 'BatchWrite', keys: writes.map(sk) });
      const held = unprocess(writes.map(sk));
      for (const write of writes) if (!held.has(sk(write))) stored.add(sk(write));
      return held.size > 0 ? { UnprocessedItems: { [TABLE_NAME]: writes.filter((write) => held.has(sk(write))) } } : {};
    }
    throw new Error(`unexpected command ${String(command)}`);
  };
  const table: TableAccess = { client: { send } as unknown as DynamoDBDocumentClient, tableName: TABLE_NAME, pageSize: undefined };
  return { table, requests };
}

const range = (count: number, from = 0) => Array.from({ length: count }, (_, index) => `k${from + index}`);
const keysOf = (names: string[]) => names.map((sk) => ({ pk: 'WS#acme', sk }));
const none = () => new Set<string>();

afterEach(() => {
  vi.useRealTimers();
});

describe('batchGet', () => {
  it('reads any number of keys in requests of 100, one after another, and leaves missing items out', async () => {
    const { table, requests } = fakeTable(new Set(range(250).filter((_, index) => index % 2 === 0)), none);
    const items = await batchGet(table, keysOf(range(250)));
    expect(requests.map((request) => request.keys)).toEqual([range(100), range(100, 100), range(50, 200)]);
    expect(sks(items)).toEqual(range(250).filter((_, index) => index % 2 === 0));
  });

  it('makes no request for no keys', async () => {
    const { table, requests } = fakeTable(new Set(), none);
    expect(await batchGet(table, [])).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('asks again for the unprocessed keys of a group before the next group, and after three rounds reads them one GetItem each', async () => {
    // k0 and k100 are never processed; k1 and k101 are once each.
    const seen = new Set<string>();
    const { table, requests } = fakeTable(new Set(range(150)), (names) => {
      const held = new Set(names.filter((sk) => ['k0', 'k100'].includes(sk) || (['k1', 'k101'].includes(sk) && !seen.has(sk))));
      for (const sk of names) seen.add(sk);
      return held;
    });
    const items = await batchGet(table, keysOf(range(150)));
    expect(requests).toEqual([
      { name: 'BatchGet', keys: range(100) },
      { name: 'BatchGet', keys: ['k0', 'k1'] },
      { name: 'BatchGet', keys: ['k0'] },
      { name: 'Get', keys: ['k0'] },
      { name: 'BatchGet', keys: range(50, 100) },
      { name: 'BatchGet', keys: ['k100', 'k101'] },
      { name: 'BatchGet', keys: ['k100'] },
      { name: 'Get', keys: ['k100'] },
    ]);
    expect(sks(items).sort()).toEqual(range(150).sort());
  });
});

describe('batchWrite', () => {
  const puts = (names: string[]) => names.map((sk) => ({ PutRequest: { Item: { pk: 'WS#acme', sk } } }));

  it('writes in groups of 25 and asks again for the unprocessed items of a group before the next group', async () => {
    // The last item of every request is left unprocessed the first time.
    const seen = new Set<string>();
    const stored = new Set<string>();
    const { table, requests } = fakeTable(stored, (names) => {
      const last = names.at(-1)!;
      const held = new Set(names.length > 1 && !seen.has(last) ? [last] : []);
      for (const sk of names) seen.add(sk);
      return held;
    });
    await batchWrite(table, puts(range(60)));
    expect(requests.map((request) => request.keys)).toEqual([range(25), ['k24'], range(25, 25), ['k49'], range(10, 50), ['k59']]);
    expect([...stored].sort()).toEqual(range(60).sort());
  });

  it('makes no request for no items', async () => {
    const { table, requests } = fakeTable(new Set(), none);
    await batchWrite(table, []);
    expect(requests).toEqual([]);
  });

  it('gives up on items never processed after nine requests, backing off 50 ms doubling up to a second', async () => {
    vi.useFakeTimers();
    const { table, requests } = fakeTable(new Set(), (names) => new Set(names.filter((sk) => sk !== 'k0')));
    let settled: unknown;
    const writing = batchWrite(table, puts(['k0', 'k1', 'k2'])).catch((error: unknown) => {
      settled = error;
    });
    // 50 + 100 + 200 + 400 + 800 + 1000 × 4 before the tenth attempt, which gives up.
    await vi.advanceTimersByTimeAsync(5_549);
    expect(settled).toBeUndefined();
    expect(requests.map((request) => request.keys)).toEqual([['k0', 'k1', 'k2'], ...Array.from({ length: 8 }, () => ['k1', 'k2'])]);
    await vi.advanceTimersByTimeAsync(1);
    await writing;
    expect(settled).toEqual(new Error('could not write 2 items'));
    expect(requests).toHaveLength(9);
  });
});
