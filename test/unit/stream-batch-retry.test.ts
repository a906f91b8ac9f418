/**
 * One batch through the event source mapping's retry policy (local/stream/batch-retry.ts):
 * ReportBatchItemFailures, the whole batch again on a throw or an unknown identifier, the doubling
 * backoff and its cap, onFailure after the last attempt, the checkpoint, and a stop during backoff.
 */
import { describe, expect, it } from 'vitest';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import {
  type BatchRetryPolicy,
  type BatchSource,
  deliverBatch,
  type StreamBatchFailure,
  type StreamBatchHandler,
} from '#local/stream/batch-retry.ts';
import { silentLogger } from '#test/support/clock.ts';

const record = (sequenceNumber: string): DynamoDBRecord => ({
  eventName: 'INSERT',
  dynamodb: { SequenceNumber: sequenceNumber, Keys: { pk: { S: `item-${sequenceNumber}` } } },
});
const batch = () => ['1', '2', '3'].map(record);
const sequenceNumbers = (event: DynamoDBStreamEvent) => event.Records.map((each) => each.dynamodb?.SequenceNumber);
const failing = (...ids: string[]) => ({ batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) });

/** A policy whose handler answers from `answers` in turn (success once they run out), recording everything. */
function setup(answers: Array<ReturnType<StreamBatchHandler> | Error> = [], overrides: Partial<BatchRetryPolicy> = {}) {
  const calls: Array<Array<string | undefined>> = [];
  const pauses: number[] = [];
  const failures: StreamBatchFailure[] = [];
  const errors: Array<{ message: string; extra: unknown }> = [];
  const policy: BatchRetryPolicy = {
    handler: (event) => {
      calls.push(sequenceNumbers(event));
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
    onFailure: (failure) => {
      failures.push(failure);
    },
    maxAttempts: 3,
    retryDelayMs: 100,
    logger: { ...silentLogger, error: (message, extra) => void errors.push({ message, extra }) },
    pause: async (ms) => {
      pauses.push(ms);
      return true;
    },
    ...overrides,
  };
  const shard: BatchSource = { id: 'shardId-1', checkpoint: undefined };
  return { policy, shard, calls, pauses, failures, errors };
}

describe('deliverBatch', () => {
  it('hands a batch over once when the handler returns nothing or no failures, and checkpoints its last record', async () => {
    // No answer, no list (as a JavaScript handler may return), an empty list.
    const answers: Array<DynamoDBBatchResponse | undefined> = [undefined, {} as DynamoDBBatchResponse, { batchItemFailures: [] }];
    for (const answer of answers) {
      const { policy, shard, calls, pauses, failures } = setup([answer]);

      await deliverBatch(shard, batch(), policy);

      expect(calls).toEqual([['1', '2', '3']]);
      expect(pauses).toEqual([]);
      expect(failures).toEqual([]);
      expect(shard.checkpoint).toBe('3');
    }
  });

  it('retries from the lowest record reported failed, checkpointing the ones before it', async () => {
    const { policy, shard, calls, pauses } = setup([failing('3', '2')]);
    const checkpoints: Array<string | undefined> = [];
    const handler = policy.handler;
    policy.handler = (event) => {
      checkpoints.push(shard.checkpoint);
      return handler(event);
    };

    await deliverBatch(shard, batch(), policy);

    expect(calls).toEqual([['1', '2', '3'], ['2', '3']]);
    expect(checkpoints).toEqual([undefined, '1']);
    expect(pauses).toEqual([100]);
    expect(shard.checkpoint).toBe('3');
  });

  it('retries the whole batch when a reported identifier is blank or names no record of it', async () => {
    const { policy, shard, calls } = setup([failing(''), failing('2', '99')]);

    await deliverBatch(shard, batch(), policy);

    expect(calls).toEqual([['1', '2', '3'], ['1', '2', '3'], ['1', '2', '3']]);
    expect(shard.checkpoint).toBe('3');
  });

  it('gives the records left to onFailure after the last attempt, without an error when none was thrown', async () => {
    const { policy, shard, calls, failures, errors } = setup([failing('2'), failing('2'), failing('2')]);

    await deliverBatch(shard, batch(), policy);

    expect(calls).toEqual([['1', '2', '3'], ['2', '3'], ['2', '3']]);
    expect(failures).toEqual([{ shardId: 'shardId-1', records: [record('2'), record('3')], attempts: 3 }]);
    expect(failures[0]).not.toHaveProperty('error');
    expect(errors).toEqual([
      {
        message: 'stream reader: records given to onFailure after the last attempt',
        extra: { shardId: 'shardId-1', attempts: 3, sequenceNumbers: ['2', '3'] },
      },
    ]);
    expect(shard.checkpoint).toBe('3');
  });

  it('retries the whole batch when the handler throws, and gives onFailure the last error', async () => {
    const last = new Error('second');
    const { policy, shard, calls, failures } = setup([new Error('first'), last], { maxAttempts: 2 });

    await deliverBatch(shard, batch(), policy);

    expect(calls).toEqual([['1', '2', '3'], ['1', '2', '3']]);
    expect(failures).toEqual([{ shardId: 'shardId-1', records: batch(), attempts: 2, error: last }]);
    expect(shard.checkpoint).toBe('3');
  });

  it('doubles the wait before each retry, up to 10 s', async () => {
    const { policy, shard, pauses } = setup(Array.from({ length: 9 }, () => new Error('down')), {
      maxAttempts: 10,
      retryDelayMs: 1_000,
    });

    await deliverBatch(shard, batch(), policy);

    expect(pauses).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
  });

  it('drops the retry when the reader stops during the backoff: no further call, nothing to onFailure', async () => {
    const { policy, shard, calls, failures } = setup([failing('2')], { pause: async () => false });

    await deliverBatch(shard, batch(), policy);

    expect(calls).toEqual([['1', '2', '3']]);
    expect(failures).toEqual([]);
    expect(shard.checkpoint).toBe('1');
  });

  it('logs the records when onFailure throws, and moves on past them', async () => {
    const thrown = new Error('destination down');
    const { policy, shard, errors } = setup([new Error('handler')], {
      maxAttempts: 1,
      onFailure: () => {
        throw thrown;
      },
    });

    await deliverBatch(shard, batch(), policy);

    expect(errors.at(-1)).toEqual({
      message: 'stream reader: onFailure threw; these records are only in this log',
      extra: { shardId: 'shardId-1', records: batch(), error: thrown },
    });
    expect(shard.checkpoint).toBe('3');
  });

  it('gives each attempt its own copy of the records, as each invocation gets its own JSON', async () => {
    const records = batch();
    const seen: DynamoDBRecord[][] = [];
    const { policy, shard } = setup();
    policy.handler = (event) => {
      seen.push(structuredClone(event.Records));
      if (seen.length > 1) return undefined;
      event.Records[0]!.eventName = 'MODIFY';
      return failing('1');
    };

    await deliverBatch(shard, records, policy);

    expect(seen).toHaveLength(2);
    expect(seen[1]?.[0]?.eventName).toBe('INSERT');
    expect(records[0]?.eventName).toBe('INSERT');
  });
});
