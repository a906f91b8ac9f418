/**
 * What the event source mapping does with one batch: hands it to the handler, retries it from the
 * first record the handler reports failed (ReportBatchItemFailures) with a doubling backoff, and
 * after the last attempt gives the records left to the on-failure callback (the local on-failure
 * destination), so a shard never sticks.
 */
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Logger } from '#app/ports.ts';

// biome-ignore lint/suspicious/noConfusingVoidType: a Lambda stream handler may return nothing, as the handler type says
type StreamHandlerResult = DynamoDBBatchResponse | void;
export type StreamBatchHandler = (event: DynamoDBStreamEvent) => StreamHandlerResult | Promise<StreamHandlerResult>;

/** What Lambda would send to the on-failure destination, with the records themselves. */
export interface StreamBatchFailure {
  shardId: string;
  /** In stream order: from the first record the last attempt failed to the end of its batch. */
  records: DynamoDBRecord[];
  attempts: number;
  /** What the last attempt threw; absent when it returned batchItemFailures. */
  error?: unknown;
}

export interface BatchRetryPolicy {
  handler: StreamBatchHandler;
  onFailure: (failure: StreamBatchFailure) => void | Promise<void>;
  /** Handler calls per batch before its unfinished records go to onFailure. */
  maxAttempts: number;
  /** Wait before the first retry, doubled before each next one, at most MAX_RETRY_DELAY_MS. */
  retryDelayMs: number;
  logger: Logger;
  /** Sleeps unless the reader stops; false when it stopped (the retry is then dropped). */
  pause(ms: number): Promise<boolean>;
}

/** The shard a batch came from: `checkpoint` is the sequence number of its last record done. */
export interface BatchSource {
  readonly id: string;
  checkpoint: string | undefined;
}

const MAX_RETRY_DELAY_MS = 10_000;

/** Hands a batch over until every record is done: handled, or given to onFailure after the last attempt. */
export async function deliverBatch(shard: BatchSource, batch: DynamoDBRecord[], policy: BatchRetryPolicy): Promise<void> {
  const { maxAttempts, retryDelayMs, logger } = policy;
  let pending = batch;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptBatch(pending, policy.handler);
    // The records before the first failure count as done, as Lambda checkpoints them.
    if (outcome.failedFrom > 0) shard.checkpoint = sequenceNumber(pending[outcome.failedFrom - 1]);
    if (outcome.failedFrom === pending.length) return;
    pending = pending.slice(outcome.failedFrom);
    if (attempt >= maxAttempts) return giveUp(shard, pending, attempt, outcome, policy);
    const delayMs = Math.min(retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
    logger.warn('stream reader: batch failed, retrying', {
      shardId: shard.id,
      attempt,
      from: sequenceNumber(pending[0]),
      records: pending.length,
      delayMs,
      ...('error' in outcome ? { error: outcome.error } : {}),
    });
    if (!(await policy.pause(delayMs))) return;
  }
}

/** The index of the first record to retry; the batch's length when it all succeeded. */
async function attemptBatch(
  records: DynamoDBRecord[],
  handler: StreamBatchHandler,
): Promise<{ failedFrom: number; error?: unknown }> {
  try {
    // Each invocation gets its own copy, as each Lambda invocation gets its own JSON.
    const response = await handler({ Records: structuredClone(records) });
    return { failedFrom: firstFailure(records, response) };
  } catch (error) {
    return { failedFrom: 0, error };
  }
}

async function giveUp(
  shard: BatchSource,
  records: DynamoDBRecord[],
  attempts: number,
  outcome: { error?: unknown },
  { logger, onFailure }: BatchRetryPolicy,
): Promise<void> {
  const failure: StreamBatchFailure = {
    shardId: shard.id,
    records,
    attempts,
    ...('error' in outcome ? { error: outcome.error } : {}),
  };
  logger.error('stream reader: records given to onFailure after the last attempt', {
    shardId: shard.id,
    attempts,
    sequenceNumbers: records.map(sequenceNumber),
  });
  try {
    await onFailure(failure);
  } catch (error) {
    logger.error('stream reader: onFailure threw; these records are only in this log', {
      shardId: shard.id,
      records,
      error,
    });
  }
  shard.checkpoint = sequenceNumber(records.at(-1));
}

/**
 * Lambda's ReportBatchItemFailures: retry from the lowest reported sequence number; a blank or
 * unknown identifier fails the whole batch; no list, or an empty one, is success.
 */
function firstFailure(records: DynamoDBRecord[], response: StreamHandlerResult): number {
  const failures = (response || undefined)?.batchItemFailures ?? [];
  if (failures.length === 0) return records.length;
  const positions = failures.map((failure) =>
    records.findIndex((record) => sequenceNumber(record) === failure?.itemIdentifier),
  );
  return positions.includes(-1) ? 0 : Math.min(...positions);
}

function sequenceNumber(record: DynamoDBRecord | undefined): string | undefined {
  return record?.dynamodb?.SequenceNumber;
}
