/**
 * One shard's reader (local/stream/shard-poller.ts) on a scripted Streams client: pages handed
 * over as Lambda batches, drained()'s waiters released by an empty page, the shard's end, and
 * the Streams errors: an expired iterator, trimmed records, a gone shard, anything else; and a stop.
 */
import { describe, expect, it } from 'vitest';
import {
  type _Record,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { pollShard, type ShardPolling } from '#local/stream/shard-poller.ts';
import { newShard, type ShardState } from '#local/stream/shards.ts';
import { silentLogger } from '#test/support/clock.ts';

const ARN = 'arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/1';
const record = (sequenceNumber: string): _Record => ({
  eventName: 'INSERT',
  dynamodb: { SequenceNumber: sequenceNumber, Keys: { pk: { S: `item-${sequenceNumber}` } } },
});
const exception = { message: 'from the test', $metadata: {} };

type Step = Partial<GetRecordsCommandOutput> | Error;

/**
 * A shard reader on a stub Streams client: GetShardIterator answers `it-<n>` (n counting its calls),
 * GetRecords answers the `pages` in turn. The reader stops when pages run out (the next pause, or
 * that GetRecords call, aborts it).
 */
function setup(pages: Step[], shard: ShardState = newShard('shardId-1', {}, false)) {
  const stopping = new AbortController();
  const log: string[] = [];
  const batches: Array<Array<string | undefined>> = [];
  const iterators: Array<GetShardIteratorCommand['input']> = [];
  const warnings: string[] = [];
  const sources: Array<string | undefined> = [];
  const streams = {
    send: async (command: unknown) => {
      if (command instanceof GetShardIteratorCommand) {
        iterators.push(command.input);
        log.push('open');
        return { ShardIterator: `it-${iterators.length}` };
      }
      if (command instanceof GetRecordsCommand) {
        log.push(`get ${command.input.ShardIterator} limit ${command.input.Limit}`);
        const step = pages.shift();
        if (step === undefined) {
          stopping.abort();
          throw new Error('aborted');
        }
        if (step instanceof Error) throw step;
        return step;
      }
      throw new Error(`unexpected command ${String(command)}`);
    },
  } as unknown as DynamoDBStreamsClient;
  const pause = async (ms: number) => {
    log.push(`pause ${ms}`);
    if (pages.length === 0) stopping.abort();
    return !stopping.signal.aborted;
  };
  const polling: ShardPolling = {
    source: { streams, streamArn: ARN, signal: stopping.signal },
    batchSize: 2,
    pollIntervalMs: 50,
    logger: { ...silentLogger, warn: (message) => void warnings.push(message) },
    pause,
    retry: {
      handler: (event: DynamoDBStreamEvent) => {
        log.push('batch');
        batches.push(event.Records.map((each) => each.dynamodb?.SequenceNumber));
        sources.push(...event.Records.map((each) => each.eventSourceARN));
      },
      onFailure: () => undefined,
      maxAttempts: 1,
      retryDelayMs: 1,
      logger: silentLogger,
      pause,
    },
    finish: (finished) => {
      log.push('finish');
      finished.status = 'finished';
    },
  };
  return { shard, polling, stopping, log, batches, sources, iterators, warnings };
}

describe('pollShard', () => {
  it('hands each page over as one Lambda batch, then pauses after an empty one', async () => {
    const { shard, polling, log, batches, sources, iterators } = setup([
      { Records: [record('1'), record('2')], NextShardIterator: 'next-1' },
      { Records: [record('3')], NextShardIterator: 'next-2' },
      { Records: [], NextShardIterator: 'next-3' },
    ]);

    await pollShard(shard, polling);

    expect(log).toEqual(['open', 'get it-1 limit 2', 'batch', 'get next-1 limit 2', 'batch', 'get next-2 limit 2', 'pause 50']);
    expect(batches).toEqual([['1', '2'], ['3']]);
    expect(sources).toEqual([ARN, ARN, ARN]);
    expect(iterators).toEqual([{ StreamArn: ARN, ShardId: 'shardId-1', ShardIteratorType: 'TRIM_HORIZON' }]);
    expect(shard).toMatchObject({ checkpoint: '3', iterator: 'next-3' });
  });

  it('releases the waiters of drained() on an empty page of a call that started after they began', async () => {
    const { shard, polling } = setup([{ Records: [record('1')], NextShardIterator: 'next-1' }, { Records: [], NextShardIterator: 'next-2' }]);
    const released = shard.waiters.wait();

    await pollShard(shard, polling);

    await expect(released).resolves.toBeUndefined();
  });

  it('finishes a closed shard after its last page, and a shard with no iterator left at once', async () => {
    const closed = setup([{ Records: [record('9')] }]);
    await pollShard(closed.shard, closed.polling);
    expect(closed.log).toEqual(['open', 'get it-1 limit 2', 'batch', 'finish']);

    const empty = setup([]);
    empty.polling.source.streams.send = (async () => ({})) as never;
    await pollShard(empty.shard, empty.polling);
    expect(empty.log).toEqual(['finish']);
  });

  it('reopens an expired iterator after the last record done', async () => {
    const { shard, polling, iterators, warnings } = setup([
      { Records: [record('5')], NextShardIterator: 'next-1' },
      new ExpiredIteratorException(exception),
      { Records: [], NextShardIterator: 'next-2' },
    ]);

    await pollShard(shard, polling);

    expect(iterators.map(({ ShardIteratorType, SequenceNumber }) => [ShardIteratorType, SequenceNumber])).toEqual([
      ['TRIM_HORIZON', undefined],
      ['AFTER_SEQUENCE_NUMBER', '5'],
    ]);
    expect(warnings).toEqual([]);
  });

  it('goes on from the oldest record left when unread records were trimmed', async () => {
    const { shard, polling, iterators, warnings } = setup(
      [new TrimmedDataAccessException(exception), { Records: [], NextShardIterator: 'next-1' }],
      { ...newShard('shardId-1', {}, true), checkpoint: '5' },
    );

    await pollShard(shard, polling);

    expect(iterators.map(({ ShardIteratorType, SequenceNumber }) => [ShardIteratorType, SequenceNumber])).toEqual([
      ['AFTER_SEQUENCE_NUMBER', '5'],
      ['TRIM_HORIZON', undefined],
    ]);
    expect(shard.start).toBe('TRIM_HORIZON');
    expect(warnings).toEqual(['stream reader: records were trimmed before they were read']);
  });

  it('finishes a shard that is gone', async () => {
    const { shard, polling, log, warnings } = setup([new ResourceNotFoundException(exception)]);

    await pollShard(shard, polling);

    expect(log).toEqual(['open', 'get it-1 limit 2', 'finish']);
    expect(warnings).toEqual(['stream reader: the shard is gone']);
  });

  it('pauses a second after any other failure, then tries the same iterator again', async () => {
    const { shard, polling, log, warnings } = setup([new Error('connection refused'), { Records: [], NextShardIterator: 'next-1' }]);

    await pollShard(shard, polling);

    expect(log).toEqual(['open', 'get it-1 limit 2', 'pause 1000', 'get it-1 limit 2', 'pause 50']);
    expect(warnings).toEqual(['stream reader: GetRecords failed']);
  });

  it('stops without moving on when the reader stops during a batch', async () => {
    const { shard, polling, stopping, log } = setup([{ Records: [record('1')], NextShardIterator: 'next-1' }, { Records: [] }]);
    polling.retry.handler = () => {
      log.push('batch');
      stopping.abort();
    };

    await pollShard(shard, polling);

    expect(log).toEqual(['open', 'get it-1 limit 2', 'batch']);
    expect(shard).toMatchObject({ checkpoint: '1', iterator: 'it-1', status: 'waiting' });
  });
});
