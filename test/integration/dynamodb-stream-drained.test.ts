/**
 * The local stream reader's drained() on DynamoDB Local's real Streams API: it waits for the
 * handler to finish with every record written before the call, and an empty poll that began
 * before the call does not count.
 */
import { describe, expect, it } from 'vitest';
import { DynamoDBStreamsClient, type GetRecordsCommandOutput } from '@aws-sdk/client-dynamodb-streams';
import { deferred, label, streamFixture } from './dynamodb-stream-fixture.ts';

const { local, client, newTable, put, startReader } = streamFixture();

describe('local DynamoDB stream reader: drained()', () => {
  it('drained() resolves only once the handler has seen every record written before the call', async () => {
    // Prepare: batches of two, and a handler held on its first batch.
    const tableName = await newTable();
    const entered = deferred();
    const gate = deferred();
    const seen: string[] = [];
    const reader = await startReader(tableName, {
      batchSize: 2,
      handler: async ({ Records }) => {
        entered.resolve();
        await gate.promise;
        seen.push(...Records.map(label));
      },
      onFailure: () => undefined,
    });
    await put(tableName, 'r', 1);
    await entered.promise;
    for (let version = 2; version <= 6; version += 1) await put(tableName, 'r', version);

    // Act
    const seenWhenDrained = reader.drained().then(() => [...seen]);
    gate.resolve();

    // Assess
    expect(await seenWhenDrained).toEqual(['r@1', 'r@2', 'r@3', 'r@4', 'r@5', 'r@6']);
  });

  it('drained() does not count an empty poll that began before the call', async () => {
    // Prepare: the reader's own Streams client, whose next empty GetRecords answer the test holds.
    const tableName = await newTable();
    const streams = new DynamoDBStreamsClient(local);
    let hold: { reached: ReturnType<typeof deferred>; release: ReturnType<typeof deferred> } | undefined;
    streams.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const empty = (result.output as GetRecordsCommandOutput).Records?.length === 0;
        if (context.commandName === 'GetRecordsCommand' && empty && hold) {
          const held = hold;
          hold = undefined;
          held.reached.resolve();
          await held.release.promise;
        }
        return result;
      },
      { step: 'initialize', name: 'holdEmptyGetRecords' },
    );
    const seen: string[] = [];
    const reader = await startReader(tableName, {
      connection: { dynamodb: client, streams },
      shardDiscoveryIntervalMs: 60_000,
      handler: ({ Records }) => void seen.push(...Records.map(label)),
      onFailure: () => undefined,
    });
    const held = { reached: deferred(), release: deferred() };
    hold = held;
    await held.reached.promise;
    await put(tableName, 'late', 1);

    // Act: the poll that answered "nothing" before the write returns only after drained() is called.
    const seenWhenDrained = reader.drained().then(() => [...seen]);
    held.release.resolve();

    // Assess
    expect(await seenWhenDrained).toEqual(['late@1']);
    await reader.stop();
    streams.destroy();
  });
});
