/** One DynamoDB Local for the whole integration run, with the presence table created from TABLE. */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { createTable } from '#test/support/table.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    tableName: string;
  }
}

export default async function setup(project: TestProject) {
  const db = await startDynamoDbLocal();
  const tableName = 'presence-test';
  await createTable(db.endpoint, tableName);
  project.provide('dynamoEndpoint', db.endpoint);
  project.provide('tableName', tableName);
  return async () => {
    await db.stop();
  };
}
