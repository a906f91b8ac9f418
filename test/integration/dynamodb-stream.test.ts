/**
 * The local stream reader on DynamoDB Local's real Streams API: Lambda's event shape and
 * ReportBatchItemFailures contract, retries into onFailure, drained() and stop().
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient, type GetRecordsCommandOutput } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import {
  DynamoDbStreamReader,
  type DynamoDbStreamReaderOptions,
  type StreamBatchFailure,
  type StreamBatchHandler,
  TableStreamMissingError,
} from '#local/dynamodb-stream.ts';
import { createTableInput } from '#adapters/table.ts';
import { createTable } from '#test/support/table.ts';
import { silentLogger } from '#test/support/clock.ts';

const endpoint = inject('dynamoEndpoint');
const LOCAL = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const client = new DynamoDBClient(LOCAL);
const readers: DynamoDbStreamReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.stop()));
});
afterAll(() => client.destroy());

/** A table of its own per test, as the harness does, with the stream ensureTable gives it. */
async function newTable(): Promise<string> {
  const tableName = `stream-${randomUUID()}`;
  await createTable(endpoint, tableName);
  return tableName;
}

async function put(tableName: string, pk: string, version: number, extra: Record<string, AttributeValue> = {}) {
  await client.send(
    new PutItemCommand({
      TableName: tableName,
      Item: { pk: { S: pk }, sk: { S: 'ITEM' }, version: { N: String(version) }, ...extra },
    }),
  );
}

/** Each handler call's records, and what went to onFailure. */
function recorder(respond: StreamBatchHandler = () => undefined) {
  const deliveries: DynamoDBRecord[][] = [];
  const failures: StreamBatchFailure[] = [];
  return {
    deliveries,
    failures,
    handler: (event: DynamoDBStreamEvent) => {
      deliveries.push(event.Records);
      return respond(event);
    },
    onFailure: (failure: StreamBatchFailure) => {
      failures.push(failure);
    },
  };
}

async function startReader(
  tableName: string,
  parts: Pick<DynamoDbStreamReaderOptions, 'handler' | 'onFailure'> & Partial<DynamoDbStreamReaderOptions>,
): Promise<DynamoDbStreamReader> {
  const reader = new DynamoDbStreamReader({
    tableName,
    connection: { endpoint },
    logger: silentLogger,
    from: 'trim-horizon',
    retryDelayMs: 1,
    ...parts,
  });
  readers.push(reader);
  await reader.start();
  return reader;
}

/** What a delivery was, readably: `pk@version`, or `pk@-` for a removal. */
function label(record: DynamoDBRecord): string {
  const image = record.dynamodb?.NewImage ?? record.dynamodb?.OldImage;
  return `${record.dynamodb?.Keys?.pk?.S}@${record.eventName === 'REMOVE' ? '-' : image?.version?.N}`;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('local DynamoDB stream reader', () => {
  it('hands over records as Lambda does: in order per item, with new and old images', async () => {
    // Prepare: one write before the start, which trim-horizon must not miss.
    const tableName = await newTable();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    await put(tableName, 'a', 1, { blob: { B: new Uint8Array([1, 2, 3]) } });
    const { deliveries, handler, onFailure, failures } = recorder();
    await startReader(tableName, { handler, onFailure });

    // Act
    await put(tableName, 'b', 1);
    await put(tableName, 'a', 2);
    await put(tableName, 'a', 3);
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: 'b' }, sk: { S: 'ITEM' } } }));
    await readers[0]!.drained();

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

  it('redelivers a batch from the record reported failed, not before it, and loses nothing', async () => {
    // Prepare: three records in the stream before the start, so they come as one batch.
    const tableName = await newTable();
    await put(tableName, 'first', 1);
    await put(tableName, 'flaky', 1);
    await put(tableName, 'last', 1);
    let failedOnce = false;
    const { deliveries, failures, handler, onFailure } = recorder(({ Records }) => {
      const flaky = Records.find((record) => record.dynamodb?.Keys?.pk?.S === 'flaky');
      if (!flaky || failedOnce) return { batchItemFailures: [] };
      failedOnce = true;
      return { batchItemFailures: [{ itemIdentifier: flaky.dynamodb?.SequenceNumber ?? '' }] };
    });
    const reader = await startReader(tableName, { handler, onFailure });

    // Act
    await reader.drained();
    await put(tableName, 'after', 1);
    await reader.drained();

    // Assess
    expect(deliveries.map((records) => records.map(label))).toEqual([
      ['first@1', 'flaky@1', 'last@1'],
      ['flaky@1', 'last@1'],
      ['after@1'],
    ]);
    expect(deliveries[1]).toEqual(deliveries[0]?.slice(1));
    expect(failures).toEqual([]);
  });

  it('retries the whole batch when a reported failure names no record of it, as Lambda does', async () => {
    // Prepare
    const tableName = await newTable();
    await put(tableName, 'a', 1);
    await put(tableName, 'b', 1);
    const answers: DynamoDBBatchResponse[] = [
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{ itemIdentifier: '12345678901234567890' }] },
    ];
    const { deliveries, failures, handler, onFailure } = recorder(() => answers.shift());
    const reader = await startReader(tableName, { handler, onFailure });

    // Act
    await reader.drained();

    // Assess
    expect(deliveries.map((records) => records.map(label))).toEqual([
      ['a@1', 'b@1'],
      ['a@1', 'b@1'],
      ['a@1', 'b@1'],
    ]);
    expect(failures).toEqual([]);
  });

  it('gives records that keep failing to onFailure after the configured attempts, then moves on', async () => {
    // Prepare: the poison record in the middle of the first batch.
    const tableName = await newTable();
    await put(tableName, 'ok', 1);
    await put(tableName, 'poison', 1);
    await put(tableName, 'ok', 2);
    const { deliveries, failures, handler, onFailure } = recorder(({ Records }) => ({
      batchItemFailures: Records.filter((record) => record.dynamodb?.Keys?.pk?.S === 'poison').map((record) => ({
        itemIdentifier: record.dynamodb?.SequenceNumber ?? '',
      })),
    }));
    const reader = await startReader(tableName, { handler, onFailure, maxAttempts: 3 });

    // Act
    await reader.drained();
    await put(tableName, 'ok', 3);
    await reader.drained();

    // Assess: like Lambda, the batch is retried from the failed record to its end.
    expect(deliveries.map((records) => records.map(label))).toEqual([
      ['ok@1', 'poison@1', 'ok@2'],
      ['poison@1', 'ok@2'],
      ['poison@1', 'ok@2'],
      ['ok@3'],
    ]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.attempts).toBe(3);
    expect(failures[0]?.records).toEqual(deliveries[2]);
    expect(failures[0]?.shardId).toMatch(/^shardId-/);
    expect(failures[0]).not.toHaveProperty('error');
  });

  it('retries the whole batch when the handler throws, and gives it to onFailure with the error', async () => {
    // Prepare
    const tableName = await newTable();
    await put(tableName, 'a', 1);
    await put(tableName, 'b', 1);
    const thrown = new Error('handler crashed');
    let calls = 0;
    const { deliveries, failures, handler, onFailure } = recorder(() => {
      calls += 1;
      if (calls <= 2) throw thrown;
    });
    const reader = await startReader(tableName, { handler, onFailure, maxAttempts: 2 });

    // Act
    await reader.drained();
    await put(tableName, 'c', 1);
    await reader.drained();

    // Assess
    expect(deliveries.map((records) => records.map(label))).toEqual([['a@1', 'b@1'], ['a@1', 'b@1'], ['c@1']]);
    expect(failures).toEqual([{ shardId: expect.any(String), records: deliveries[0], attempts: 2, error: thrown }]);
  });

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
    const streams = new DynamoDBStreamsClient(LOCAL);
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

  it('stop() resolves once the batch in flight settles', async () => {
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
        events.push('handler settled');
      },
      onFailure: () => undefined,
    });
    await entered.promise;

    // Act
    const stopped = reader.stop().then(() => events.push('stopped'));
    gate.resolve();
    await stopped;

    // Assess
    expect(events).toEqual(['handler settled', 'stopped']);
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
