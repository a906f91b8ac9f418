/**
 * The reader's shards (local/stream/shards.ts): DescribeStream's pages, a new shard's start and
 * status, a child waiting for its parent, and where GetShardIterator starts or resumes a shard.
 */
import { describe, expect, it } from 'vitest';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetShardIteratorCommand,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { listShards, newShard, openIterator, parentFinished, type ShardState } from '#local/stream/shards.ts';

const ARN = 'arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/1';

/** A Streams client whose send answers with `answer` and records each command and its options. */
function stubStreams(answer: (command: unknown) => unknown) {
  const sent: Array<{ command: unknown; options: unknown }> = [];
  const streams = {
    send: async (command: unknown, options: unknown) => {
      sent.push({ command, options });
      return answer(command);
    },
  } as unknown as DynamoDBStreamsClient;
  return { streams, sent };
}

const open: Shard = { ShardId: 'shardId-1', SequenceNumberRange: { StartingSequenceNumber: '1' } };
const closed: Shard = { ShardId: 'shardId-0', SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '9' } };

describe('listShards', () => {
  it('follows DescribeStream\'s pages, with the stop signal on each call', async () => {
    const signal = new AbortController().signal;
    const pages: Record<string, { Shards: Shard[]; LastEvaluatedShardId?: string }> = {
      first: { Shards: [closed], LastEvaluatedShardId: 'shardId-0' },
      'shardId-0': { Shards: [open] },
    };
    const { streams, sent } = stubStreams((command) => ({
      StreamDescription: pages[(command as DescribeStreamCommand).input.ExclusiveStartShardId ?? 'first'],
    }));

    const shards = await listShards({ streams, streamArn: ARN, signal });

    expect(shards).toEqual([closed, open]);
    expect(sent.map(({ command }) => (command as DescribeStreamCommand).input)).toEqual([
      { StreamArn: ARN, ExclusiveStartShardId: undefined },
      { StreamArn: ARN, ExclusiveStartShardId: 'shardId-0' },
    ]);
    expect(sent.every(({ command, options }) => command instanceof DescribeStreamCommand && (options as { abortSignal: AbortSignal }).abortSignal === signal)).toBe(true);
  });

  it('is empty for a stream without a description', async () => {
    const { streams } = stubStreams(() => ({}));

    expect(await listShards({ streams, streamArn: ARN, signal: new AbortController().signal })).toEqual([]);
  });
});

describe('newShard', () => {
  it('begins a shard found at a reader\'s start from latest at LATEST, and one closed by then finished', () => {
    expect(newShard('shardId-1', open, true)).toMatchObject({ start: 'LATEST', status: 'waiting', checkpoint: undefined, iterator: undefined });
    expect(newShard('shardId-0', closed, true)).toMatchObject({ start: 'LATEST', status: 'finished' });
  });

  it('begins any other shard at its first record, closed or not, and keeps its parent', () => {
    expect(newShard('shardId-0', closed, false)).toMatchObject({ id: 'shardId-0', start: 'TRIM_HORIZON', status: 'waiting' });
    expect(newShard('shardId-2', { ...open, ParentShardId: 'shardId-1' }, false)).toMatchObject({
      id: 'shardId-2',
      parentId: 'shardId-1',
      start: 'TRIM_HORIZON',
      status: 'waiting',
    });
  });
});

describe('parentFinished', () => {
  const shard = (id: string, status: ShardState['status'], parentId?: string): ShardState => ({
    ...newShard(id, { ParentShardId: parentId }, false),
    status,
  });

  it('lets a shard without a parent, or whose parent the stream no longer lists, be read', () => {
    expect(parentFinished(shard('a', 'waiting'), new Map())).toBe(true);
    expect(parentFinished(shard('b', 'waiting', 'trimmed'), new Map())).toBe(true);
  });

  it('holds a child until its parent is finished', () => {
    const child = shard('child', 'waiting', 'parent');
    for (const status of ['waiting', 'reading'] as const) {
      expect(parentFinished(child, new Map([['parent', shard('parent', status)]]))).toBe(false);
    }
    expect(parentFinished(child, new Map([['parent', shard('parent', 'finished')]]))).toBe(true);
  });
});

describe('openIterator', () => {
  it('starts a shard where it begins while no record is done, and resumes after the last one done', async () => {
    const signal = new AbortController().signal;
    const { streams, sent } = stubStreams(() => ({ ShardIterator: 'iterator' }));
    const shard = newShard('shardId-1', open, true);

    expect(await openIterator({ streams, streamArn: ARN, signal }, shard)).toBe('iterator');
    shard.checkpoint = '42';
    await openIterator({ streams, streamArn: ARN, signal }, shard);

    expect(sent.map(({ command }) => (command as GetShardIteratorCommand).input)).toEqual([
      { StreamArn: ARN, ShardId: 'shardId-1', ShardIteratorType: 'LATEST' },
      { StreamArn: ARN, ShardId: 'shardId-1', ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: '42' },
    ]);
    expect(sent.every(({ command, options }) => command instanceof GetShardIteratorCommand && (options as { abortSignal: AbortSignal }).abortSignal === signal)).toBe(true);
  });

  it('answers none when the shard has nothing left to read', async () => {
    const { streams } = stubStreams(() => ({}));

    expect(await openIterator({ streams, streamArn: ARN, signal: new AbortController().signal }, newShard('shardId-0', closed, false))).toBeUndefined();
  });
});
