/**
 * Integration harness: the real DynamoDB store on DynamoDB Local, a recording gateway and event
 * publisher, a manual clock, and the real handler factories. Each test gets its own workspace ids.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { SignJWT } from 'jose';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { makeJwtVerifier } from '#adapters/jwt.ts';
import { ConnectionGoneError } from '#app/errors.ts';
import type { PresenceChange, ServerMessage } from '#app/messages.ts';
import { deliverChanges } from '#app/fanout.ts';
import { recordHistory } from '#app/history.ts';
import type { AgentUnavailable, ConnectionGateway, EventPublisher, PresenceChanged, PresenceConfig, PresenceStore, Ports, StoredAgent } from '#app/ports.ts';
import { makeDocumentClient } from '#handlers/composition.ts';
import { createTable } from '#test/support/table.ts';

const JWT_SECRET = 'integration-test-secret-0123456789abcdef';

import { ManualClock, silentLogger } from '#test/support/clock.ts';

export { ManualClock, silentLogger };

/** Records every post; connections can be marked gone (410) or failing. */
export class RecordingGateway implements ConnectionGateway {
  readonly posts: { connectionId: string; message: ServerMessage }[] = [];
  readonly deleted: string[] = [];
  readonly gone = new Set<string>();
  readonly failing = new Set<string>();
  /** Connections whose $connect has not returned: API Gateway answers 410 to posts, as for gone ones. */
  readonly opening = new Set<string>();

  async post(connectionId: string, message: unknown): Promise<void> {
    if (this.gone.has(connectionId) || this.opening.has(connectionId)) throw new ConnectionGoneError(connectionId);
    if (this.failing.has(connectionId)) throw new Error('network error');
    this.posts.push({ connectionId, message: JSON.parse(JSON.stringify(message)) as ServerMessage });
  }
  async get(connectionId: string) {
    return this.gone.has(connectionId) ? undefined : { connectedAt: 0, lastActiveAt: 0 };
  }
  async delete(connectionId: string): Promise<void> {
    if (this.gone.has(connectionId)) throw new ConnectionGoneError(connectionId);
    this.deleted.push(connectionId);
    this.gone.add(connectionId);
  }
  /** The changes one connection received, in order, across its `presence` messages. */
  changes(connectionId: string): Array<PresenceChange & { type: 'presence' }> {
    return this.received(connectionId, 'presence').flatMap((message) => message.changes.map((change) => ({ type: 'presence' as const, ...change })));
  }
  /** Messages one connection received, optionally of one type. */
  received<T extends ServerMessage['type']>(connectionId: string, type?: T): Extract<ServerMessage, { type: T }>[] {
    return this.posts
      .filter((post) => post.connectionId === connectionId && (!type || post.message.type === type))
      .map((post) => post.message as Extract<ServerMessage, { type: T }>);
  }
  clear(): void {
    this.posts.length = 0;
  }
}

export class RecordingPublisher implements EventPublisher {
  readonly events: PresenceChanged[] = [];
  async publish(events: PresenceChanged[]): Promise<void> {
    this.events.push(...events);
  }
  readonly unavailable: AgentUnavailable[] = [];
  async publishUnavailable(events: AgentUnavailable[]): Promise<void> {
    this.unavailable.push(...events);
  }
}


export const TEST_CONFIG: PresenceConfig = {
  leaseMs: 90_000,
  graceMs: 10_000,
  defaultIdleTimeoutSeconds: 600,
  minIdleTimeoutSeconds: 1,
  minUnavailableAfterSeconds: 1,
  maxIdleTimeoutSeconds: 86_400,
  sweepIntervalMs: 5_000,
  fanoutConcurrency: 8,
  fanoutChunkSize: 100,
  agentRetentionMs: 90 * 86_400_000,
  historyRetentionMs: 400 * 86_400_000,
  maxConnectionsPerUser: 20,
};

/** Stores whose commits the harness delivers at once; a test on the real stream takes its store out. */
export const harnessDelivers = new WeakSet<object>();

export function uniqueWorkspace(label = 'ws'): string {
  return `${label}-${randomUUID()}`;
}

export interface Harness {
  ports: Ports;
  clock: ManualClock;
  gateway: RecordingGateway;
  events: RecordingPublisher;
  store: DynamoDbPresenceStore;
  /** The store's DocumentClient: fault-injection tests add middleware to it. */
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Every item of the harness's table, sorted: to assert that bad input changed nothing. */
  scanTable(): Promise<Record<string, unknown>[]>;
  /** The ports the stream's stand-in delivers with (default: `ports`); a test with its own gateway sets them. */
  deliverWith(ports: Ports): void;
}

/**
 * A harness on a table of its own: workspaces are unique per test anyway, but the sweeper is global
 * by design, and one test's clock must never sweep another test's agents.
 */
export async function makeHarness(config: Partial<PresenceConfig> = {}, pageSize?: number): Promise<Harness> {
  const tableName = `presence-${randomUUID()}`;
  await createTable(inject('dynamoEndpoint'), tableName);
  const clock = new ManualClock();
  const gateway = new RecordingGateway();
  const events = new RecordingPublisher();
  const client = makeDocumentClient({ PRESENCE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint') });
  const store = new DynamoDbPresenceStore({
    client,
    tableName,
    agentRetentionMs: TEST_CONFIG.agentRetentionMs,
    ...(pageSize ? { pageSize } : {}),
  });
  const ports: Ports = { store, gateway, events, clock, config: { ...TEST_CONFIG, ...config }, logger: silentLogger };
  // The stream's stand-in: each commit's changes go to the delivery consumer right after the write,
  // in commit order, as the stream would hand them over (dynamodb-stream tests use the real one).
  let deliveryPorts = ports;
  const save = store.saveAgent.bind(store);
  store.saveAgent = async (agent, dueAt, now, changes = [], notices = []) => {
    const written = await save(agent, dueAt, now, changes, notices);
    // As the stream consumer does: the history is recorded while the changes are delivered.
    if (written && notices.length > 0 && harnessDelivers.has(store)) {
      await deliveryPorts.events.publishUnavailable(notices);
    }
    if (written && changes.length > 0 && harnessDelivers.has(store)) {
      await Promise.all([recordHistory(deliveryPorts, changes), deliverChanges(deliveryPorts, changes)]);
    }
    return written;
  };
  harnessDelivers.add(store);
  const scanTable = async () => {
    const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    return Items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
  };
  return {
    ports,
    clock,
    gateway,
    events,
    store,
    client,
    tableName,
    scanTable,
    deliverWith: (next) => {
      deliveryPorts = next;
    },
  };
}

export const verifier = makeJwtVerifier({ mode: 'secret', secret: JWT_SECRET });

export interface TokenClaims {
  workspace: string;
  sub: string;
  name?: string;
  teams?: string[];
  role?: string;
}

export async function token(claims: TokenClaims, expiresInSeconds = 3600, secret = JWT_SECRET): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(new TextEncoder().encode(secret));
}

/** The stored agent item, as the handlers read it (the port has no read of the agent alone). */
export async function storedAgent(store: Pick<PresenceStore, 'getAgentWithSettings'>, workspaceId: string, userId: string): Promise<StoredAgent | undefined> {
  return (await store.getAgentWithSettings(workspaceId, userId)).agent;
}
