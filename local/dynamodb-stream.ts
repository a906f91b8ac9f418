/**
 * Reads a table's stream from DynamoDB Local through the real DynamoDB Streams API and hands it to
 * a handler as a Lambda DynamoDB event source mapping would: `DynamoDBStreamEvent` batches, in
 * order and one at a time per shard (ParallelizationFactor 1), ReportBatchItemFailures, a bounded
 * number of attempts with backoff, then an on-failure callback (the local on-failure destination)
 * so a shard never sticks. A child shard is read once its parent is exhausted.
 *
 * Positions live in memory: a new reader starts where `from` says, not where the last one stopped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  type AttributeValue as StreamAttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type Shard,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type {
  AttributeValue,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  StreamRecord,
} from 'aws-lambda';
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

const MAX_RETRY_DELAY_MS = 10_000;
/** After a failed Streams call: DynamoDB Local may be restarting; don't spin. */
const ERROR_PAUSE_MS = 1_000;

interface CatchUpWaiter {
  /** Set when a GetRecords call starts after drained() was called: only its empty answer counts. */
  armed: boolean;
  resolve(): void;
  reject(error: Error): void;
}

interface ShardState {
  id: string;
  parentId: string | undefined;
  /** Where to begin while no record is done. */
  start: 'TRIM_HORIZON' | 'LATEST';
  /** Sequence number of the last record done: handled, or given to onFailure. */
  checkpoint: string | undefined;
  iterator: string | undefined;
  status: 'waiting' | 'reading' | 'finished';
  waiters: CatchUpWaiter[];
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
  private streamArn = '';
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
  }

  /** Resolves once every shard present has its position, so no write after it is missed. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('a stream reader starts once');
    this.state = 'running';
    try {
      const { tableName } = this.settings;
      const { Table } = await this.dynamodb.send(new DescribeTableCommand({ TableName: tableName }), this.abortable());
      if (!Table?.StreamSpecification?.StreamEnabled || !Table.LatestStreamArn) {
        throw new TableStreamMissingError(tableName);
      }
      this.streamArn = Table.LatestStreamArn;
      await this.discoverShards(true);
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.track(this.discoverPeriodically());
    this.settings.logger.info('stream reader started', {
      tableName: this.settings.tableName,
      streamArn: this.streamArn,
      shards: this.shards.size,
      from: this.settings.from,
    });
  }

  /** Resolves once the batch in flight settles; retries still waiting are dropped with the positions. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  /**
   * Resolves once every shard's reader has handed over (and seen settled) every record present at
   * the call: a GetRecords started after the call came back empty, or the shard ended.
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
    for (const shard of this.shards.values()) {
      for (const waiter of shard.waiters.splice(0)) waiter.reject(new StreamReaderStoppedError());
    }
    while (this.loops.size > 0) await Promise.all(this.loops);
    if (this.ownsClients) {
      this.dynamodb.destroy();
      this.streams.destroy();
    }
  }

  private caughtUp(shard: ShardState): Promise<void> {
    if (shard.status === 'finished') return Promise.resolve();
    return new Promise((resolve, reject) => shard.waiters.push({ armed: false, resolve, reject }));
  }

  /** One DescribeStream pass at a time, so two passes never add a shard twice. */
  private discoverShards(initial: boolean): Promise<void> {
    const pass = this.discovery.then(() => this.describeShards(initial));
    this.discovery = pass.catch(() => undefined);
    return pass;
  }

  private async describeShards(initial: boolean): Promise<void> {
    const found: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
        this.abortable(),
      );
      found.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);

    const fromLatest = initial && this.settings.from === 'latest';
    const added: ShardState[] = [];
    for (const { ShardId, ParentShardId, SequenceNumberRange } of found) {
      if (!ShardId || this.shards.has(ShardId) || this.state !== 'running') continue;
      const closed = SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const shard: ShardState = {
        id: ShardId,
        parentId: ParentShardId,
        start: fromLatest ? 'LATEST' : 'TRIM_HORIZON',
        checkpoint: undefined,
        iterator: undefined,
        // Reading from LATEST, a shard closed before the start holds nothing new.
        status: fromLatest && closed ? 'finished' : 'waiting',
        waiters: [],
      };
      this.shards.set(ShardId, shard);
      added.push(shard);
    }
    const ready = added.filter((shard) => shard.status === 'waiting' && this.parentFinished(shard));
    if (initial) {
      await Promise.all(
        ready.map(async (shard) => {
          shard.iterator = await this.openIterator(shard);
        }),
      );
    }
    for (const shard of ready) this.begin(shard);
  }

  private parentFinished(shard: ShardState): boolean {
    const parent = shard.parentId === undefined ? undefined : this.shards.get(shard.parentId);
    // A parent the stream no longer lists has been trimmed: nothing left to wait for.
    return parent === undefined || parent.status === 'finished';
  }

  private begin(shard: ShardState): void {
    shard.status = 'reading';
    this.track(this.readShard(shard));
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

  private async readShard(shard: ShardState): Promise<void> {
    const { batchSize, pollIntervalMs, logger } = this.settings;
    while (this.state === 'running') {
      try {
        shard.iterator ??= await this.openIterator(shard);
        if (!shard.iterator) return this.finish(shard);
        for (const waiter of shard.waiters) waiter.armed = true;
        const page = await this.streams.send(
          new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: batchSize }),
          this.abortable(),
        );
        const records = (page.Records ?? []).map((record) => toLambdaRecord(record, this.streamArn));
        if (records.length > 0) await this.deliver(shard, records);
        if (this.state !== 'running') return;
        // A closed shard ends with no next iterator once its last record is read.
        if (!page.NextShardIterator) return this.finish(shard);
        shard.iterator = page.NextShardIterator;
        if (records.length === 0) {
          this.settleArmedWaiters(shard);
          await this.pause(pollIntervalMs);
        }
      } catch (error) {
        if (this.state !== 'running') return;
        if (error instanceof ExpiredIteratorException) {
          shard.iterator = undefined;
        } else if (error instanceof TrimmedDataAccessException) {
          logger.warn('stream reader: records were trimmed before they were read', { shardId: shard.id, error });
          shard.iterator = undefined;
          shard.checkpoint = undefined;
          shard.start = 'TRIM_HORIZON';
        } else if (error instanceof ResourceNotFoundException) {
          logger.warn('stream reader: the shard is gone', { shardId: shard.id, error });
          return this.finish(shard);
        } else {
          logger.warn('stream reader: GetRecords failed', { shardId: shard.id, error });
          await this.pause(ERROR_PAUSE_MS);
        }
      }
    }
  }

  /** Resumes after the last record done, or at the shard's start while none is; none: nothing left to read. */
  private async openIterator(shard: ShardState): Promise<string | undefined> {
    const position = shard.checkpoint
      ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, SequenceNumber: shard.checkpoint }
      : { ShardIteratorType: shard.start };
    const { ShardIterator } = await this.streams.send(
      new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shard.id, ...position }),
      this.abortable(),
    );
    return ShardIterator;
  }

  private finish(shard: ShardState): void {
    shard.status = 'finished';
    for (const waiter of shard.waiters.splice(0)) waiter.resolve();
    for (const child of this.shards.values()) {
      if (child.parentId === shard.id && child.status === 'waiting') this.begin(child);
    }
  }

  private settleArmedWaiters(shard: ShardState): void {
    const armed = shard.waiters.filter((waiter) => waiter.armed);
    shard.waiters = shard.waiters.filter((waiter) => !waiter.armed);
    for (const waiter of armed) waiter.resolve();
  }

  /** Hands a batch over until every record is done: handled, or given to onFailure after the last attempt. */
  private async deliver(shard: ShardState, batch: DynamoDBRecord[]): Promise<void> {
    const { maxAttempts, retryDelayMs, logger } = this.settings;
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(pending);
      // The records before the first failure count as done, as Lambda checkpoints them.
      if (outcome.failedFrom > 0) shard.checkpoint = sequenceNumber(pending[outcome.failedFrom - 1]);
      if (outcome.failedFrom === pending.length) return;
      pending = pending.slice(outcome.failedFrom);
      if (attempt >= maxAttempts) return this.giveUp(shard, pending, attempt, outcome);
      const delayMs = Math.min(retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
      logger.warn('stream reader: batch failed, retrying', {
        shardId: shard.id,
        attempt,
        from: sequenceNumber(pending[0]),
        records: pending.length,
        delayMs,
        ...('error' in outcome ? { error: outcome.error } : {}),
      });
      if (!(await this.pause(delayMs))) return;
    }
  }

  /** The index of the first record to retry; the batch's length when it all succeeded. */
  private async attempt(records: DynamoDBRecord[]): Promise<{ failedFrom: number; error?: unknown }> {
    try {
      // Each invocation gets its own copy, as each Lambda invocation gets its own JSON.
      const response = await this.settings.handler({ Records: structuredClone(records) });
      return { failedFrom: firstFailure(records, response) };
    } catch (error) {
      return { failedFrom: 0, error };
    }
  }

  private async giveUp(
    shard: ShardState,
    records: DynamoDBRecord[],
    attempts: number,
    outcome: { error?: unknown },
  ): Promise<void> {
    const { logger, onFailure } = this.settings;
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

  private track(loop: Promise<void>): void {
    const settled = loop.catch((error: unknown) => {
      this.settings.logger.error('stream reader: a loop failed', { error });
    });
    this.loops.add(settled);
    void settled.finally(() => this.loops.delete(settled));
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

  private abortable() {
    return { abortSignal: this.stopping.signal };
  }
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

/** A Streams API record in the form Lambda delivers it: epoch seconds, base64 binaries, the source ARN. */
function toLambdaRecord(record: _Record, eventSourceARN: string): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  const dynamodb: StreamRecord = {};
  if (stream.ApproximateCreationDateTime) {
    dynamodb.ApproximateCreationDateTime = stream.ApproximateCreationDateTime.getTime() / 1000;
  }
  if (stream.Keys) dynamodb.Keys = toLambdaImage(stream.Keys);
  if (stream.NewImage) dynamodb.NewImage = toLambdaImage(stream.NewImage);
  if (stream.OldImage) dynamodb.OldImage = toLambdaImage(stream.OldImage);
  if (stream.SequenceNumber) dynamodb.SequenceNumber = stream.SequenceNumber;
  if (stream.SizeBytes !== undefined) dynamodb.SizeBytes = stream.SizeBytes;
  if (stream.StreamViewType) dynamodb.StreamViewType = stream.StreamViewType;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion,
    dynamodb,
    eventSourceARN,
    // TTL deletions: Lambda spells the identity's fields in camel case.
    ...(record.userIdentity
      ? { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }
      : {}),
  };
}

function toLambdaImage(image: Record<string, StreamAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));
}

function toLambdaValue(value: StreamAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  // A type newer than this SDK: passed on as DynamoDB sent it.
  // The Streams client reads an empty map ({"M":{}}, e.g. an agent with no connections left) as {}.
  if (!value.$unknown) return { M: {} };
  const [type, raw] = value.$unknown;
  return { [type]: raw } as unknown as AttributeValue;
}
