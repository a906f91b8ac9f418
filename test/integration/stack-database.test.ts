/**
 * The local stack's table (local/stack-database.ts) on the DynamoDB Local PRESENCE_DYNAMODB_ENDPOINT
 * names: made when missing and found when there, nothing of its own to stop; an unreachable
 * endpoint or an unwritable data directory is a problem the person starting the stack can fix.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { startDatabase } from '#local/stack-database.ts';
import { LocalStackError } from '#local/stack-settings.ts';

const endpoint = inject('dynamoEndpoint');

describe('startDatabase', () => {
  it('makes the table when it is missing and finds it the next time, starting nothing of its own', async () => {
    const tableName = `stack-${randomUUID()}`;
    const cleanups: Array<() => Promise<void>> = [];

    const first = await startDatabase({ PRESENCE_DYNAMODB_ENDPOINT: endpoint }, tableName, cleanups);
    const second = await startDatabase({ PRESENCE_DYNAMODB_ENDPOINT: endpoint }, tableName, cleanups);

    expect(first).toEqual({ dynamoEndpoint: endpoint, tableCreated: true });
    expect(second).toEqual({ dynamoEndpoint: endpoint, tableCreated: false });
    expect(cleanups).toEqual([]);
  });

  it('names the table and the endpoint when it cannot set the table up', async () => {
    const started = startDatabase({ PRESENCE_DYNAMODB_ENDPOINT: 'http://127.0.0.1:1' }, 'presence', []);

    await expect(started).rejects.toBeInstanceOf(LocalStackError);
    await expect(started).rejects.toThrow(/^cannot set up table presence at http:\/\/127\.0\.0\.1:1: /);
  });

  it('refuses a data directory it cannot write to before starting DynamoDB Local', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stack-database-'));
    try {
      await writeFile(join(dir, 'not-a-directory'), '');
      const cleanups: Array<() => Promise<void>> = [];

      const started = startDatabase({ PRESENCE_DATA_DIR: join(dir, 'not-a-directory', 'data') }, 'presence', cleanups);

      await expect(started).rejects.toThrow(
        new LocalStackError(
          `cannot write to the data directory ${join(dir, 'not-a-directory', 'data')} (ENOTDIR): set PRESENCE_DATA_DIR to a writable directory, or :memory:`,
        ),
      );
      expect(cleanups).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
