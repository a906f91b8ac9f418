/** The table's real stream in integration tests: a harness only the stream delivers for, and the consumer reading it. */
import { inject } from 'vitest';
import { makeStreamHandler } from '#handlers/stream.ts';
import type { StreamBatchFailure } from '#local/stream/batch-retry.ts';
import { DynamoDbStreamReader } from '#local/stream/reader.ts';
import { type Harness, harnessDelivers, makeHarness, silentLogger } from '#test/support/harness.ts';

/** The consumer on the harness table's stream, from its first record, as the event source mapping drives it. The caller stops it. */
export async function startReader(
  harness: Harness,
  options: { maxAttempts?: number; failures?: StreamBatchFailure[]; onBatch?: () => void } = {},
): Promise<DynamoDbStreamReader> {
  const handle = makeStreamHandler({ ports: harness.ports });
  const reader = new DynamoDbStreamReader({
    tableName: harness.tableName,
    connection: { endpoint: inject('dynamoEndpoint') },
    handler: async (event) => {
      options.onBatch?.();
      return handle(event);
    },
    onFailure: (failure) => {
      options.failures?.push(failure);
    },
    logger: silentLogger,
    from: 'trim-horizon',
    retryDelayMs: 10,
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  await reader.start();
  return reader;
}

/** A harness whose commits only the stream delivers. */
export async function streamHarness(): Promise<Harness> {
  const harness = await makeHarness();
  harnessDelivers.delete(harness.store);
  return harness;
}
