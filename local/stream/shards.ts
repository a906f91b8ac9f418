/**
 * The stream's shards as the reader keeps them: listing them (DescribeStream, page by page), the
 * state of each, the order they are read in (a child once its parent is finished), and where
 * reading one starts or resumes (GetShardIterator).
 */
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { CatchUpWaiters } from './catch-up-waiters.ts';

export interface ShardState {
  id: string;
  parentId: string | undefined;
  /** Where to begin while no record is done. */
  start: 'TRIM_HORIZON' | 'LATEST';
  /** Sequence number of the last record done: handled, or given to onFailure. */
  checkpoint: string | undefined;
  iterator: string | undefined;
  status: 'waiting' | 'reading' | 'finished';
  waiters: CatchUpWaiters;
}

/** Where the Streams API is and what stops its calls: the reader's stream and its stop signal. */
export interface StreamSource {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  signal: AbortSignal;
}

/** Every shard DescribeStream lists, following its pages. */
export async function listShards({ streams, streamArn, signal }: StreamSource): Promise<Shard[]> {
  const found: Shard[] = [];
  let exclusiveStartShardId: string | undefined;
  do {
    const { StreamDescription } = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      { abortSignal: signal },
    );
    found.push(...(StreamDescription?.Shards ?? []));
    exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
  } while (exclusiveStartShardId);
  return found;
}

/** A shard just found; `fromLatest`: present at the start of a reader that begins at 'latest'. */
export function newShard(id: string, listed: Shard, fromLatest: boolean): ShardState {
  const closed = listed.SequenceNumberRange?.EndingSequenceNumber !== undefined;
  return {
    id,
    parentId: listed.ParentShardId,
    start: fromLatest ? 'LATEST' : 'TRIM_HORIZON',
    checkpoint: undefined,
    iterator: undefined,
    // Reading from LATEST, a shard closed before the start holds nothing new.
    status: fromLatest && closed ? 'finished' : 'waiting',
    waiters: new CatchUpWaiters(),
  };
}

/** Whether the shard may be read: its parent is finished, or there is none to wait for. */
export function parentFinished(shard: ShardState, shards: ReadonlyMap<string, ShardState>): boolean {
  const parent = shard.parentId === undefined ? undefined : shards.get(shard.parentId);
  // A parent the stream no longer lists has been trimmed: nothing left to wait for.
  return parent === undefined || parent.status === 'finished';
}

/** Resumes after the last record done, or at the shard's start while none is; none: nothing left to read. */
export async function openIterator({ streams, streamArn, signal }: StreamSource, shard: ShardState): Promise<string | undefined> {
  const position = shard.checkpoint
    ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: shard.checkpoint }
    : { ShardIteratorType: shard.start };
  const { ShardIterator } = await streams.send(
    new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.id, ...position }),
    { abortSignal: signal },
  );
  return ShardIterator;
}
