/**
 * Reads a table's stream from DynamoDB Local through the real DynamoDB Streams API and hands it to
 * a handler as a Lambda DynamoDB event source mapping would: `DynamoDBStreamEvent` batches, in
 * order and one at a time per shard (ParallelizationFactor 1), ReportBatchItemFailures, a bounded
 * number of attempts with backoff, then an on-failure callback (the local on-failure destination)
 * so a shard never sticks. A child shard is read once its parent is exhausted.
 *
 * This module runs the reader: its start and stop, finding shards as the stream splits, and
 * drained(). Each shard is read by pollShard (shard-poller.ts), each batch retried by deliverBatch
 * (batch-retry.ts).
 *
 * Positions live in memory: a new reader starts where `from` says, not where the last one stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Logger } from '#app/ports.ts';
import type { BatchRetryPolicy, StreamBatchFailure, StreamBatchHandler } from './batch-retry.ts';
import { pollShard, type ShardPolling } from './shard-poller.ts';
import { listShards, newShard, openIterator, parentFinished, type ShardState, type StreamSource } from './shards.ts';

export interface DynamoDbStreamReaderOptions {
  tableName: string;
  /** DynamoDB Local's endpoint (the reader makes its clients and destroys them on stop), or clients the caller owns. */
  connection: { endpoint: string } | { dynamodb: DynamoDBClient; streams: DynamoDBStreamsClient };
  handler: StreamBatchHandler;
  onFailure: (failure: StreamBatchFailure) => void | Promise<void>;
  logger: Logger;
  /** Where the shards present at start begin (shards found later begin at their first record). Default 'latest'. */
  from?: 'trim-horizon' | 'latest';
  /** Most records per batch, 1 to 1000 (one GetRecords call). Default 100. */
  batchSize?: number;
  /** Wait after a poll that found nothing new. Default 50 ms. */
  pollIntervalMs?: number;
  /** How often DescribeStream looks for new shards. Default 1000 ms. */
  shardDiscoveryIntervalMs?: number;
  /** Handler calls per batch before its unfinished records go to onFailure. Default 3. */
  maxAttempts?: number;
  /** Wait before the first retry, doubled before each next one, at most 10 s. Default 100 ms. */
  retryDelayMs?: number;
}

export class TableStreamMissingError extends Error {
  override readonly name = 'TableStreamMissingError';
  constructor(readonly tableName: string) {
    super(`table ${tableName} has no stream; ensureTable turns it on`);
  }
}

class StreamReaderStoppedError extends Error {
  override readonly name = 'StreamReaderStoppedError';
  constructor() {
    super('the stream reader is not running');
  }
}

export class DynamoDbStreamReader {
  private readonly dynamodb: DynamoDBClient;
  private readonly streams: DynamoDBStreamsClient;
  private readonly ownsClients: boolean;
  private readonly settings: Required<Omit<DynamoDbStreamReaderOptions, 'connection'>>;
  private readonly shards = new Map<string, ShardState>();
  private readonly loops = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private state: 'new' | 'running' | 'stopped' = 'new';
  private stopped: Promise<void> | undefined;
  /** The stream once start() has found it. */
  private source: StreamSource;
  private discovery: Promise<void> = Promise.resolve();

  constructor(options: DynamoDbStreamReaderOptions) {
    const { connection, ...rest } = options;
    this.settings = {
      from: 'latest',
      batchSize: 100,
      pollIntervalMs: 50,
      shardDiscoveryIntervalMs: 1_000,
      maxAttempts: 3,
      retryDelayMs: 100,
      ...rest,
    };
    const { batchSize, maxAttempts } = this.settings;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
      throw new RangeError(`batchSize must be an integer from 1 to 1000, not ${batchSize}`);
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be a positive integer, not ${maxAttempts}`);
    }
    if ('endpoint' in connection) {
      const config = {
        endpoint: connection.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      };
      this.dynamodb = new DynamoDBClient(config);
      this.streams = new DynamoDBStreamsClient(config);
      this.ownsClients = true;
    } else {
      this.dynamodb = connection.dynamodb;
      this.streams = connection.streams;
      this.ownsClients = false;
    }
    this.source = { streams: this.streams, streamArn: '', signal: this.stopping.signal };
  }

  /** Resolves once every shard present has its position, so no write after it is missed. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('a stream reader starts once');
    this.state = 'running';
    try {
      const { tableName } = this.settings;
      const { Table } = await this.dynamodb.send(
        new DescribeTableCommand({ TableName: tableName }),
        { abortSignal: this.stopping.signal },
      );
      if (!Table?.StreamSpecification?.StreamEnabled || !Table.LatestStreamArn) {
        throw new TableStreamMissingError(tableName);
      }
      this.source = { ...this.source, streamArn: Table.LatestStreamArn };
      await this.discoverShards(true);
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.track(this.discoverPeriodically());
    this.settings.logger.info('stream reader started', {
      tableName: this.settings.tableName,
      streamArn: this.source.streamArn,
      shards: this.shards.size,
      from: this.settings.from,
    });
  }

  /** Resolves once the batch in flight is done; retries still waiting are dropped with the positions. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  /**
   * Resolves once every record present at the call is done (handled, or given to onFailure) in
   * every shard: a GetRecords started after the call came back empty, or the shard ended.
   */
  async drained(): Promise<void> {
    if (this.state !== 'running') throw new StreamReaderStoppedError();
    const known = new Set(this.shards.keys());
    await Promise.all([
      ...[...this.shards.values()].map((shard) => this.caughtUp(shard)),
      // Records written since the last discovery may sit in a shard not known yet.
      this.discoverShards(false).then(() =>
        Promise.all([...this.shards.values()].filter(({ id }) => !known.has(id)).map((shard) => this.caughtUp(shard))),
      ),
    ]);
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopped';
    this.stopping.abort();
    for (const shard of this.shards.values()) shard.waiters.rejectAll(() => new StreamReaderStoppedError());
    while (this.loops.size > 0) await Promise.all(this.loops);
    if (this.ownsClients) {
      this.dynamodb.destroy();
      this.streams.destroy();
    }
  }

  private caughtUp(shard: ShardState): Promise<void> {
    if (shard.status === 'finished') return Promise.resolve();
    return shard.waiters.wait();
  }

  /** One DescribeStream pass at a time, so two passes never add a shard twice. */
  private discoverShards(initial: boolean): Promise<void> {
    const pass = this.discovery.then(() => this.describeShards(initial));
    this.discovery = pass.catch(() => undefined);
    return pass;
  }

  private async describeShards(initial: boolean): Promise<void> {
    const found = await listShards(this.source);
    const fromLatest = initial && this.settings.from === 'latest';
    const added: ShardState[] = [];
    for (const listed of found) {
      const { ShardId } = listed;
      if (!ShardId || this.shards.has(ShardId) || this.state !== 'running') continue;
      const shard = newShard(ShardId, listed, fromLatest);
      this.shards.set(ShardId, shard);
      added.push(shard);
    }
    const ready = added.filter((shard) => shard.status === 'waiting' && parentFinished(shard, this.shards));
    if (initial) {
      await Promise.all(
        ready.map(async (shard) => {
          shard.iterator = await openIterator(this.source, shard);
        }),
      );
    }
    for (const shard of ready) this.begin(shard);
  }

  private begin(shard: ShardState): void {
    shard.status = 'reading';
    this.track(pollShard(shard, this.polling()));
  }

  /** The shard has no more records: its waiters are released and its children may be read. */
  private finish(shard: ShardState): void {
    shard.status = 'finished';
    shard.waiters.releaseAll();
    for (const child of this.shards.values()) {
      if (child.parentId === shard.id && child.status === 'waiting') this.begin(child);
    }
  }

  private polling(): ShardPolling {
    const { batchSize, pollIntervalMs, logger, handler, onFailure, maxAttempts, retryDelayMs } = this.settings;
    const pause = (ms: number) => this.pause(ms);
    const retry: BatchRetryPolicy = { handler, onFailure, maxAttempts, retryDelayMs, logger, pause };
    return { source: this.source, batchSize, pollIntervalMs, retry, logger, pause, finish: (shard) => this.finish(shard) };
  }

  private async discoverPeriodically(): Promise<void> {
    while (await this.pause(this.settings.shardDiscoveryIntervalMs)) {
      try {
        await this.discoverShards(false);
      } catch (error) {
        if (this.state === 'running') this.settings.logger.warn('stream reader: DescribeStream failed', { error });
      }
    }
  }

  private track(loop: Promise<void>): void {
    const guarded = loop.catch((error: unknown) => {
      this.settings.logger.error('stream reader: a loop failed', { error });
    });
    this.loops.add(guarded);
    void guarded.finally(() => this.loops.delete(guarded));
  }

  /** Sleeps unless stopped; false when stopped. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
      return true;
    } catch {
      return false;
    }
  }
}
