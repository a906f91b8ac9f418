/**
 * One shard's reader, as the event source mapping polls a shard: GetRecords in a loop, each
 * non-empty page handed over as one batch before the next call (ParallelizationFactor 1), a pause
 * after an empty page, until the shard ends or the reader stops. Streams errors are met as Lambda
 * meets them: an expired iterator is reopened, reading goes on from the oldest record left when
 * unread ones were trimmed, a shard that is gone ends.
 */
import {
  ExpiredIteratorException,
  GetRecordsCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { Logger } from '#app/ports.ts';
import { type BatchRetryPolicy, deliverBatch } from './batch-retry.ts';
import { toLambdaRecord } from './lambda-records.ts';
import { openIterator, type ShardState, type StreamSource } from './shards.ts';

export interface ShardPolling {
  /** The stream; its signal aborting stops the loop. */
  source: StreamSource;
  /** Most records per GetRecords call, so per batch. */
  batchSize: number;
  /** Wait after a poll that found nothing new. */
  pollIntervalMs: number;
  retry: BatchRetryPolicy;
  logger: Logger;
  /** Sleeps unless the reader stops; false when it stopped. */
  pause(ms: number): Promise<boolean>;
  /** The shard has no more records: marks it finished and lets its children be read. */
  finish(shard: ShardState): void;
}

/** After a failed Streams call: DynamoDB Local may be restarting; don't spin. */
const ERROR_PAUSE_MS = 1_000;

export async function pollShard(shard: ShardState, polling: ShardPolling): Promise<void> {
  const { source, batchSize, pollIntervalMs, logger } = polling;
  const running = () => !source.signal.aborted;
  while (running()) {
    try {
      shard.iterator ??= await openIterator(source, shard);
      if (!shard.iterator) return polling.finish(shard);
      shard.waiters.arm();
      const page = await source.streams.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: batchSize }),
        { abortSignal: source.signal },
      );
      const records = (page.Records ?? []).map((record) => toLambdaRecord(record, source.streamArn));
      if (records.length > 0) await deliverBatch(shard, records, polling.retry);
      if (!running()) return;
      // A closed shard ends with no next iterator once its last record is read.
      if (!page.NextShardIterator) return polling.finish(shard);
      shard.iterator = page.NextShardIterator;
      if (records.length === 0) {
        shard.waiters.releaseArmed();
        await polling.pause(pollIntervalMs);
      }
    } catch (error) {
      if (!running()) return;
      if (error instanceof ExpiredIteratorException) {
        shard.iterator = undefined;
      } else if (error instanceof TrimmedDataAccessException) {
        logger.warn('stream reader: records were trimmed before they were read', { shardId: shard.id, error });
        shard.iterator = undefined;
        shard.checkpoint = undefined;
        shard.start = 'TRIM_HORIZON';
      } else if (error instanceof ResourceNotFoundException) {
        logger.warn('stream reader: the shard is gone', { shardId: shard.id, error });
        return polling.finish(shard);
      } else {
        logger.warn('stream reader: GetRecords failed', { shardId: shard.id, error });
        await polling.pause(ERROR_PAUSE_MS);
      }
    }
  }
}
