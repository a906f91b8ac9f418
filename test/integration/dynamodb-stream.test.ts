/**
 * The local stream reader on DynamoDB Local's real Streams API: Lambda's event shape and order,
 * where a reader starts (from trim-horizon or latest, never on a table without a stream) and
 * stop(). Retries are in dynamodb-stream-retries.test.ts, drained() in dynamodb-stream-drained.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CreateTableCommand, DeleteItemCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { StreamBatchFailure } from '#local/stream/batch-retry.ts';
import { DynamoDbStreamReader, TableStreamMissingError } from '#local/stream/reader.ts';
import { createTableInput } from '#adapters/table.ts';
import { silentLogger } from '#test/support/clock.ts';
import { deferred, label, recorder, streamFixture } from './dynamodb-stream-fixture.ts';

const { endpoint, client, newTable, put, startReader } = streamFixture();

describe('local DynamoDB stream reader', () => {
  it('hands over records as Lambda does: in order per item, with new and old images', async () => {
    // Prepare: one write before the start, which trim-horizon must not miss.
    const tableName = await newTable();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    await put(tableName, 'a', 1, { blob: { B: new Uint8Array([1, 2, 3]) } });
    const { deliveries, handler, onFailure, failures } = recorder();
    const reader = await startReader(tableName, { handler, onFailure });

    // Act
    await put(tableName, 'b', 1);
    await put(tableName, 'a', 2);
    await put(tableName, 'a', 3);
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: 'b' }, sk: { S: 'ITEM' } } }));
    await reader.drained();

    // Assess
    const records = deliveries.flat();
    expect(records.map(label)).toEqual(['a@1', 'b@1', 'a@2', 'a@3', 'b@-']);
    expect(failures).toEqual([]);
    const keys = { pk: { S: 'a' }, sk: { S: 'ITEM' } };
    expect(records[0]).toEqual({
      eventID: expect.any(String),
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: expect.any(String),
      eventSourceARN: Table?.LatestStreamArn,
      dynamodb: {
        ApproximateCreationDateTime: expect.any(Number),
        Keys: keys,
        NewImage: { ...keys, version: { N: '1' }, blob: { B: 'AQID' } },
        SequenceNumber: expect.stringMatching(/^\d+$/),
        SizeBytes: expect.any(Number),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(records[2]?.eventName).toBe('MODIFY');
    expect(records[2]?.dynamodb?.OldImage).toEqual({ ...keys, version: { N: '1' }, blob: { B: 'AQID' } });
    expect(records[2]?.dynamodb?.NewImage).toEqual({ ...keys, version: { N: '2' } });
    expect(records[3]?.dynamodb?.OldImage?.version).toEqual({ N: '2' });
    expect(records[4]).toMatchObject({
      eventName: 'REMOVE',
      dynamodb: { OldImage: { pk: { S: 'b' }, version: { N: '1' } } },
    });
    expect(records[4]?.dynamodb?.NewImage).toBeUndefined();
    const sequence = records.map((record) => BigInt(record.dynamodb?.SequenceNumber ?? -1));
    expect(sequence).toEqual([...sequence].sort((x, y) => (x < y ? -1 : 1)));
  });

  it('stop() resolves once the batch in flight is done', async () => {
    // Prepare: a handler held on its batch.
    const tableName = await newTable();
    await put(tableName, 'a', 1);
    const entered = deferred();
    const gate = deferred();
    const events: string[] = [];
    const reader = await startReader(tableName, {
      handler: async () => {
        entered.resolve();
        await gate.promise;
        events.push('handler returned');
      },
      onFailure: () => undefined,
    });
    await entered.promise;

    // Act
    const stopped = reader.stop().then(() => events.push('stopped'));
    gate.resolve();
    await stopped;

    // Assess
    expect(events).toEqual(['handler returned', 'stopped']);
    await expect(reader.drained()).rejects.toThrow('not running');
  });

  it('stop() during a retry backoff ends it at once and leaves no timers behind', async () => {
    // Prepare: a handler that always fails, and a reader waiting 10 s before its retry.
    const tableName = await newTable();
    await put(tableName, 'a', 1);
    const timersBefore = activeTimers();
    const backingOff = deferred();
    const failures: StreamBatchFailure[] = [];
    const reader = await startReader(tableName, {
      retryDelayMs: 10_000,
      logger: { ...silentLogger, warn: (message) => message.includes('retrying') && backingOff.resolve() },
      handler: () => {
        throw new Error('always fails');
      },
      onFailure: (failure) => void failures.push(failure),
    });
    await backingOff.promise;
    const startedAt = Date.now();

    // Act
    await reader.stop();

    // Assess: the retry was dropped, not sent to onFailure (a new reader would read it again).
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(failures).toEqual([]);
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it('from latest, reads what is written after start() and nothing before it', async () => {
    // Prepare
    const tableName = await newTable();
    await put(tableName, 'before', 1);
    const { deliveries, handler, onFailure } = recorder();
    const reader = await startReader(tableName, { from: 'latest', handler, onFailure });

    // Act
    await put(tableName, 'after', 1);
    await reader.drained();

    // Assess
    expect(deliveries.flat().map(label)).toEqual(['after@1']);
  });

  it('refuses to start on a table without a stream, and holds nothing open', async () => {
    // Prepare
    const tableName = `stream-${randomUUID()}`;
    const { StreamSpecification: _stream, ...withoutStream } = createTableInput(tableName);
    await client.send(new CreateTableCommand(withoutStream));
    const { handler, onFailure } = recorder();
    const reader = new DynamoDbStreamReader({
      tableName,
      connection: { endpoint },
      logger: silentLogger,
      handler,
      onFailure,
    });

    // Act
    const started = reader.start();

    // Assess
    await expect(started).rejects.toBeInstanceOf(TableStreamMissingError);
    await expect(reader.drained()).rejects.toThrow('not running');
  });
});

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}
