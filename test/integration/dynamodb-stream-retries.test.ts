/**
 * The local stream reader's retries on DynamoDB Local's real Streams API: Lambda's
 * ReportBatchItemFailures contract, the whole batch again when the handler throws or names no
 * record of it, and the records left going to onFailure after the last attempt.
 */
import { describe, expect, it } from 'vitest';
import type { DynamoDBBatchResponse } from 'aws-lambda';
import { label, recorder, streamFixture } from './dynamodb-stream-fixture.ts';

const { newTable, put, startReader } = streamFixture();

describe('local DynamoDB stream reader: retries', () => {
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
});
