/** ensureTable on DynamoDB Local: the table gets its stream when created, and an existing one is brought up to it. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTableInput, TABLE } from '#adapters/table.ts';
import { ensureTable } from '#local/table-setup.ts';

const client = new DynamoDBClient({
  endpoint: inject('dynamoEndpoint'),
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
afterAll(() => client.destroy());

const WANTED_STREAM = { StreamEnabled: true, StreamViewType: TABLE.streamViewType };

async function describeTable(tableName: string) {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return Table;
}

/** A table as an older version of the local stack left it: everything but the stream, or another stream. */
async function createTableWithStream(stream: { StreamEnabled: boolean; StreamViewType?: 'KEYS_ONLY' } | undefined) {
  const tableName = `setup-${randomUUID()}`;
  const { StreamSpecification: _wanted, ...withoutStream } = createTableInput(tableName);
  await client.send(new CreateTableCommand({ ...withoutStream, ...(stream ? { StreamSpecification: stream } : {}) }));
  return tableName;
}

describe('ensureTable', () => {
  it('creates the table with a stream of new and old images, and changes nothing the second time', async () => {
    // Prepare
    const tableName = `setup-${randomUUID()}`;

    // Act
    const first = await ensureTable(client, tableName);
    const second = await ensureTable(client, tableName);

    // Assess
    expect(first).toEqual({ created: true, addedIndexes: [], enabledStream: false, enabledTtl: true });
    expect(second).toEqual({ created: false, addedIndexes: [], enabledStream: false, enabledTtl: false });
    const table = await describeTable(tableName);
    expect(table?.StreamSpecification).toEqual(WANTED_STREAM);
    expect(table?.LatestStreamArn).toMatch(/\/stream\//);
  });

  it('adds the stream to an existing table created without one', async () => {
    // Prepare
    const tableName = await createTableWithStream(undefined);
    expect((await describeTable(tableName))?.StreamSpecification).toBeUndefined();

    // Act
    const report = await ensureTable(client, tableName);

    // Assess
    expect(report).toEqual({ created: false, addedIndexes: [], enabledStream: true, enabledTtl: true });
    const table = await describeTable(tableName);
    expect(table?.StreamSpecification).toEqual(WANTED_STREAM);
    expect(table?.LatestStreamArn).toMatch(/\/stream\//);
    expect(await ensureTable(client, tableName)).toMatchObject({ enabledStream: false });
  });

  it('replaces a stream of another view type, which cannot be changed in place', async () => {
    // Prepare
    const tableName = await createTableWithStream({ StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
    const before = await describeTable(tableName);

    // Act
    const report = await ensureTable(client, tableName);

    // Assess
    expect(report).toMatchObject({ created: false, enabledStream: true });
    const table = await describeTable(tableName);
    expect(table?.StreamSpecification).toEqual(WANTED_STREAM);
    expect(table?.LatestStreamArn).toBeDefined();
    expect(table?.LatestStreamArn).not.toBe(before?.LatestStreamArn);
  });
});
