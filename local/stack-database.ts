/**
 * The local stack's table: on the DynamoDB Local that PRESENCE_DYNAMODB_ENDPOINT names, or on one
 * started here with its data in PRESENCE_DATA_DIR (`:memory:`: none kept); made there if missing.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { ensureTable } from '#local/table-setup.ts';
import { type Env, LocalStackError } from '#local/stack-settings.ts';

export interface StackDatabase {
  dynamoEndpoint: string;
  /** True when the table did not exist before: its stream is then read from its first record. */
  tableCreated: boolean;
}

/** Adds DynamoDB Local's stop to `cleanups` as soon as it runs, so a failure after it stops it. */
export async function startDatabase(env: Env, tableName: string, cleanups: Array<() => Promise<void>>): Promise<StackDatabase> {
  let dynamoEndpoint = env.PRESENCE_DYNAMODB_ENDPOINT;
  if (!dynamoEndpoint) {
    const dataDirSetting = env.PRESENCE_DATA_DIR || '.presence-data';
    const dataDir = dataDirSetting === ':memory:' ? undefined : await prepareDataDir(dataDirSetting);
    const db = await startDynamoDbLocal(dataDir ? { dataDir } : {});
    cleanups.push(() => db.stop());
    dynamoEndpoint = db.endpoint;
  }
  const dynamo = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let tableCreated = false;
  try {
    tableCreated = (await ensureTable(dynamo, tableName)).created;
  } catch (error) {
    throw new LocalStackError(`cannot set up table ${tableName} at ${dynamoEndpoint}: ${(error as Error).message}`);
  } finally {
    dynamo.destroy();
  }
  return { dynamoEndpoint, tableCreated };
}

async function prepareDataDir(dir: string): Promise<string> {
  const path = resolve(dir);
  try {
    await mkdir(path, { recursive: true });
    await access(path, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new LocalStackError(`cannot write to the data directory ${path} (${reason}): set PRESENCE_DATA_DIR to a writable directory, or :memory:`);
  }
  return path;
}
