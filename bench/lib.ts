/**
 * Bench support: a DynamoDB client whose every request is counted with the ConsumedCapacity
 * DynamoDB reports (indexes included), a manual clock, a counting gateway and event publisher, and
 * ports over the real store. Nothing here asserts: scenarios measure and report.
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { DynamoDBClient, type ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import type { AgentUnavailable, ConnectionGateway, EventPublisher, PresenceChanged, PresenceConfig, Ports } from '#app/ports.ts';
import { ensureTable } from '#local/table-setup.ts';
import { ManualClock, silentLogger } from '#test/support/clock.ts';

export { ManualClock, silentLogger };

/** Totals of what DynamoDB reported, per operation and per table/index. */
export class CapacityMeter {
  requests = 0;
  readUnits = 0;
  writeUnits = 0;
  /** Items DynamoDB read to answer (Query/Scan ScannedCount, 1 per GetItem that found an item). */
  itemsRead = 0;
  readonly byOperation = new Map<string, { requests: number; units: number; itemsRead: number }>();
  /** Write units per table or index name (index names as DynamoDB reports them). */
  readonly byTarget = new Map<string, number>();
  /** Requests whose response had no ConsumedCapacity (a sign the endpoint does not report it). */
  unreported = 0;
  /**
   * Reads DynamoDB Local reported as 0 units (a Query or Scan that matched nothing). DynamoDB
   * rounds every read up to one 4 KB unit, so these are counted at that minimum instead.
   */
  readFloors = 0;

  reset(): void {
    this.requests = this.readUnits = this.writeUnits = this.itemsRead = this.unreported = this.readFloors = 0;
    this.byOperation.clear();
    this.byTarget.clear();
  }

  snapshot() {
    return {
      requests: this.requests,
      readUnits: this.readUnits,
      writeUnits: this.writeUnits,
      itemsRead: this.itemsRead,
      readFloors: this.readFloors,
      byOperation: Object.fromEntries(this.byOperation),
      byTarget: Object.fromEntries(this.byTarget),
    };
  }

  /**
   * `keys`: the items a read asked for by key. DynamoDB bills each as a GetItem, found or not, so
   * at least one unit each (half when eventually consistent); DynamoDB Local reports nothing for
   * a key of a BatchGetItem that found no item.
   */
  record(operation: string, capacity: ConsumedCapacity[] | undefined, itemsRead: number, consistent = false, keys = 1): void {
    this.requests++;
    this.itemsRead += itemsRead;
    const write = WRITE_OPERATIONS.has(operation);
    let units = 0;
    if (!capacity || capacity.length === 0) this.unreported++;
    const reported = (capacity ?? []).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
    const minimum = keys * (consistent ? 1 : 0.5);
    if (!write && capacity && reported < minimum && (reported === 0 || operation === 'BatchGetItemCommand')) {
      this.readFloors++;
      capacity = [{ CapacityUnits: reported === 0 ? minimum : reported + (keys - itemsRead) * (consistent ? 1 : 0.5) }];
    }
    for (const entry of capacity ?? []) {
      units += entry.CapacityUnits ?? 0;
      const add = (name: string, value: number | undefined) => {
        if (value && write) this.byTarget.set(name, (this.byTarget.get(name) ?? 0) + value);
      };
      add('table', entry.Table?.CapacityUnits);
      for (const [name, index] of Object.entries(entry.GlobalSecondaryIndexes ?? {})) add(name, index.CapacityUnits);
      for (const [name, index] of Object.entries(entry.LocalSecondaryIndexes ?? {})) add(name, index.CapacityUnits);
    }
    if (write) this.writeUnits += units;
    else this.readUnits += units;
    const row = this.byOperation.get(operation) ?? { requests: 0, units: 0, itemsRead: 0 };
    row.requests++;
    row.units += units;
    row.itemsRead += itemsRead;
    this.byOperation.set(operation, row);
  }
}

const WRITE_OPERATIONS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);
const CAPACITY_OPERATIONS = new Set([
  ...WRITE_OPERATIONS,
  'GetItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchGetItemCommand',
  'TransactGetItemsCommand',
]);

/**
 * A low-level client with a middleware that asks for ReturnConsumedCapacity INDEXES on every
 * request that takes it and records what comes back, failed conditional writes included (DynamoDB
 * charges them; their units come back on the error).
 */
export function meteredClient(endpoint: string, meter: CapacityMeter): { client: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = context.commandName ?? 'unknown';
      const counted = CAPACITY_OPERATIONS.has(operation);
      if (counted) (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'INDEXES';
      try {
        const result = await next(args);
        if (counted) {
          const output = result.output as {
            ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[];
            ScannedCount?: number;
            Item?: unknown;
            Responses?: Record<string, unknown[]>;
          };
          const capacity = output.ConsumedCapacity;
          const items =
            operation === 'GetItemCommand'
              ? output.Item ? 1 : 0
              : operation === 'BatchGetItemCommand'
                ? Object.values(output.Responses ?? {}).reduce((sum, found) => sum + found.length, 0)
                : (output.ScannedCount ?? 0);
          const batch = Object.values((args.input as { RequestItems?: Record<string, { Keys?: unknown[]; ConsistentRead?: boolean }> }).RequestItems ?? {});
          const consistent =
            operation === 'BatchGetItemCommand'
              ? batch.every((table) => table.ConsistentRead === true)
              : (args.input as { ConsistentRead?: boolean }).ConsistentRead === true;
          const keys = operation === 'BatchGetItemCommand' ? batch.reduce((sum, table) => sum + (table.Keys?.length ?? 0), 0) : 1;
          meter.record(operation, capacity === undefined ? undefined : Array.isArray(capacity) ? capacity : [capacity], items, consistent, keys);
        }
        return result;
      } catch (error) {
        if (counted) {
          // A failed condition still consumed write units; DynamoDB Local does not report them on
          // the error, so count the base-table minimum of 1.
          meter.record(operation, [{ CapacityUnits: 1, Table: { CapacityUnits: 1 } }], 0);
        }
        throw error;
      }
    },
    { step: 'initialize', name: 'benchConsumedCapacity', priority: 'high' },
  );
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc };
}

export async function newTable(client: DynamoDBClient, label: string): Promise<string> {
  const tableName = `bench-${label}-${randomUUID().slice(0, 8)}`;
  await ensureTable(client, tableName);
  return tableName;
}

/** Counts posts (API Gateway messages, 32 KB units) instead of delivering them. */
class CountingGateway implements ConnectionGateway {
  posts = 0;
  messageUnits = 0;
  async post(_connectionId: string, message: unknown): Promise<void> {
    this.posts++;
    this.messageUnits += Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(message)) / 32_768));
  }
  async get() {
    return { connectedAt: 0, lastActiveAt: 0 };
  }
  async delete(): Promise<void> {}
}

class CountingPublisher implements EventPublisher {
  events = 0;
  async publish(events: PresenceChanged[]): Promise<void> {
    this.events += events.length;
  }
  async publishUnavailable(events: AgentUnavailable[]): Promise<void> {
    this.events += events.length;
  }
}

export const DEFAULT_CONFIG: PresenceConfig = {
  leaseMs: 90_000,
  graceMs: 10_000,
  defaultIdleTimeoutSeconds: 600,
  minIdleTimeoutSeconds: 60,
  minUnavailableAfterSeconds: 30,
  maxIdleTimeoutSeconds: 86_400,
  sweepIntervalMs: 5_000,
  fanoutConcurrency: 32,
  fanoutChunkSize: 100,
  agentRetentionMs: 90 * 86_400_000,
  historyRetentionMs: 400 * 86_400_000,
  maxConnectionsPerUser: 20,
};

export interface BenchPorts extends Ports {
  store: DynamoDbPresenceStore;
  gateway: CountingGateway;
  events: CountingPublisher;
}

export function benchPorts(
  doc: DynamoDBDocumentClient,
  tableName: string,
  clock: { now(): number },
  config: Partial<PresenceConfig> = {},
): BenchPorts {
  const full = { ...DEFAULT_CONFIG, ...config };
  return {
    store: new DynamoDbPresenceStore({ client: doc, tableName, agentRetentionMs: full.agentRetentionMs }),
    gateway: new CountingGateway(),
    events: new CountingPublisher(),
    clock,
    config: full,
    logger: silentLogger,
  };
}

/** Runs `once` from `concurrency` loops for `seconds`; returns how many calls finished and the seconds taken. */
export async function saturate(concurrency: number, seconds: number, once: () => Promise<unknown>): Promise<{ done: number; elapsed: number }> {
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await once();
        done++;
      }
    }),
  );
  return { done, elapsed: (performance.now() - started) / 1000 };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function machine(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'unknown cpu'}, ${list.length} cores, node ${process.version}`;
}

/** Authorizer context as API Gateway hands it to every route. */
function authorizerContext(workspaceId: string, userId: string) {
  return { userId, workspaceId, name: userId, teams: '[]', role: 'agent' };
}

export function wsEvent(
  routeKey: string,
  eventType: 'CONNECT' | 'DISCONNECT' | 'MESSAGE',
  connectionId: string,
  connectedAt: number,
  workspaceId: string,
  userId: string,
  body?: object,
) {
  return {
    requestContext: { routeKey, eventType, connectionId, connectedAt, authorizer: authorizerContext(workspaceId, userId) },
    body: body ? JSON.stringify(body) : null,
    isBase64Encoded: false,
  };
}
