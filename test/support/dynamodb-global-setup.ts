/**
 * One DynamoDB Local for the whole run; each harness creates its own tables in it. Projects that
 * run together (integration, e2e) share it: one JVM to start and warm up instead of one each.
 */
import type { TestProject } from 'vitest/node';
import { type DynamoDbLocal, startDynamoDbLocal } from '#local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

/** On globalThis: vitest loads this module once per project, all in its main process. */
const SHARED = Symbol.for('presence.test.dynamodb-local');
type Shared = { db: Promise<DynamoDbLocal>; users: number };
const holder = globalThis as { [SHARED]?: Shared };

export default async function setup(project: TestProject) {
  holder[SHARED] ??= { db: startDynamoDbLocal(), users: 0 };
  const shared = holder[SHARED];
  shared.users++;
  project.provide('dynamoEndpoint', (await shared.db).endpoint);
  return async () => {
    shared.users--;
    if (shared.users > 0) return;
    delete holder[SHARED];
    await (await shared.db).stop();
  };
}
