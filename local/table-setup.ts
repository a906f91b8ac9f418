/**
 * Creates the presence table from the one table definition, or brings an existing one up to it
 * (missing indexes, stream, TTL), so `npm start` can run again and again on the same data directory.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, TABLE } from '#adapters/table.ts';

export interface TableSetupReport {
  created: boolean;
  addedIndexes: string[];
  enabledStream: boolean;
  enabledTtl: boolean;
}

export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<TableSetupReport> {
  const wanted = createTableInput(tableName);
  const report: TableSetupReport = { created: false, addedIndexes: [], enabledStream: false, enabledTtl: false };
  let existing;
  try {
    existing = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  if (!existing) {
    await client.send(new CreateTableCommand(wanted));
    report.created = true;
  } else {
    const present = new Set((existing.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
    for (const index of wanted.GlobalSecondaryIndexes) {
      if (present.has(index.IndexName)) continue;
      // One index per UpdateTable call, as DynamoDB requires.
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: wanted.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [{ Create: index }],
        }),
      );
      report.addedIndexes.push(index.IndexName);
    }
    const stream = existing.StreamSpecification;
    if (!stream?.StreamEnabled || stream.StreamViewType !== TABLE.streamViewType) {
      // A stream's view type is fixed: a wrong one is turned off first (its records are lost, locally only).
      if (stream?.StreamEnabled) {
        await client.send(
          new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: false } }),
        );
      }
      await client.send(
        new UpdateTableCommand({ TableName: tableName, StreamSpecification: wanted.StreamSpecification }),
      );
      report.enabledStream = true;
    }
  }
  const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
  if (status !== 'ENABLED' && status !== 'ENABLING') {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      }),
    );
    report.enabledTtl = true;
  }
  return report;
}
