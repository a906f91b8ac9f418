/**
 * The local stream reader tests' fixture: a table of its own per test on DynamoDB Local, writes to
 * it, readers that an afterEach stops, pass or fail, and a handler that records what it was given.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, inject } from 'vitest';
import { type AttributeValue, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamBatchFailure, StreamBatchHandler } from '#local/stream/batch-retry.ts';
import { DynamoDbStreamReader, type DynamoDbStreamReaderOptions } from '#local/stream/reader.ts';
import { createTable } from '#test/support/table.ts';
import { silentLogger } from '#test/support/clock.ts';

/** Registers the afterEach that stops every reader and the afterAll that closes the client; call once at the top of a test file. */
export function streamFixture() {
  const endpoint = inject('dynamoEndpoint');
  const local = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const client = new DynamoDBClient(local);
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

  /** A started reader on the table from its first record, retrying at once; stopped after the test. */
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

  return { endpoint, local, client, newTable, put, startReader };
}

/** Each handler call's records, and what went to onFailure. */
export function recorder(respond: StreamBatchHandler = () => undefined) {
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

/** What a delivery was, readably: `pk@version`, or `pk@-` for a removal. */
export function label(record: DynamoDBRecord): string {
  const image = record.dynamodb?.NewImage ?? record.dynamodb?.OldImage;
  return `${record.dynamodb?.Keys?.pk?.S}@${record.eventName === 'REMOVE' ? '-' : image?.version?.N}`;
}

export function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}
