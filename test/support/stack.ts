/**
 * End-to-end support: the local stack started in-process on free ports against the shared
 * DynamoDB Local (own table per stack), with a manual clock and manual sweeps, and real `ws`
 * clients that wait for messages instead of sleeping.
 *
 * Each test owns what it opens: importing this module adds a per-test fixture to the file (see
 * `afterEach` below) that closes every client a test opened and stops every stack it started, and
 * a client's waits see only what arrived after the current test began (or after its last `mark()`).
 * Clients and stacks opened in `beforeAll` belong to their suite, which closes them in `afterAll`.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, inject } from 'vitest';
import WebSocket from 'ws';
import type { PresenceChange, ServerMessage as WireMessage } from '#app/messages.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '#local/stack.ts';
import { mintToken, type TokenRequest } from '#local/tokens.ts';
import { ManualClock, silentLogger } from '#test/support/harness.ts';

/**
 * What a test client records: every message as sent, except that a `presence` message is
 * recorded as one entry per change it carries (tests follow users' changes, not batches).
 */
export type ServerMessage = Exclude<WireMessage, { type: 'presence' }> | (PresenceChange & { type: 'presence' });

export const E2E_SECRET = 'end-to-end-test-secret-0123456789abcdef';

/** Short timings, as PROTOCOL.md allows the local stack for tests. */
const E2E_ENV = {
  PRESENCE_JWT_SECRET: E2E_SECRET,
  PRESENCE_CONNECTION_LEASE_SECONDS: '6',
  PRESENCE_RECONNECT_GRACE_SECONDS: '2',
  PRESENCE_IDLE_TIMEOUT_SECONDS: '30',
  PRESENCE_MIN_IDLE_TIMEOUT_SECONDS: '5',
  PRESENCE_SWEEP_INTERVAL_SECONDS: '1',
  // Tests drive many messages through a clock that barely moves; rate-limit.test.ts sets its own.
  PRESENCE_RATE_LIMIT_BURST: '100000',
  // The test secret is not the development one: the page's demo sign-in must be asked for.
  PRESENCE_DEV_SIGN_IN: '1',
};

export interface TestStack extends LocalStack {
  clock: ManualClock;
  /** Mints a token for this stack (HS256, the test secret). */
  token(request: TokenRequest): Promise<string>;
  /** Opens a client and waits for the upgrade; rejects with the handshake status. */
  connect(request: TokenRequest | { rawToken: string }): Promise<Client>;
  /**
   * Sends and waits until the server has handled it: a getPresence round trip proves the frames
   * arrived (the emulator tracks each handler as a frame arrives), then every handler finishes
   * and every change they committed is delivered.
   */
  deliver(client: Client, ...messages: Array<string | object>): Promise<void>;
  /** Closes (or drops) the client and waits until the server has seen it and run `$disconnect`. */
  close(client: Client, how?: 'close' | 'drop'): Promise<void>;
}

export async function startTestStack(
  options: Omit<LocalStackOptions, 'env'> & { env?: Record<string, string> } = {},
): Promise<TestStack> {
  const clock = new ManualClock();
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    clock,
    sweepTimer: false,
    logger: silentLogger,
    // Worker threads only where a test asks for them (fanout-workers.test.ts): they cost each stack a boot.
    fanoutWorkers: 0,
    ...options,
    env: {
      ...E2E_ENV,
      PRESENCE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint'),
      PRESENCE_TABLE_NAME: `e2e-${randomUUID()}`,
      ...options.env,
    },
  });
  const token = (request: TokenRequest) => mintToken(request, stack.signing);
  const test: TestStack = {
    ...stack,
    clock,
    token,
    connect: async (request) => {
      const client = await Client.open(stack.wsUrl, 'rawToken' in request ? request.rawToken : await token(request));
      stackOf.set(client, test);
      return client;
    },
    deliver: async (client, ...messages) => {
      for (const message of messages) client.send(message);
      await client.snapshot();
      await stack.delivered();
    },
    close: async (client, how = 'close') => {
      const before = stack.emulator.closedConnections;
      if (how === 'drop') client.drop();
      else client.socket.close(1000);
      await client.closed;
      while (stack.emulator.closedConnections === before) await new Promise((resolve) => setImmediate(resolve));
      await stack.delivered();
    },
    stop: () => {
      running.delete(test);
      return stack.stop();
    },
  };
  running.set(test, { dropDisconnect: stack.emulator.dropDisconnect });
  current?.stacks.push(test);
  return test;
}

/** What the current test opened and started; undefined outside a test (in `beforeAll` and `afterAll`). */
let current: { clients: Client[]; stacks: TestStack[] } | undefined;
/** Stacks not yet stopped, with the toggles they started with. */
const running = new Map<TestStack, { dropDisconnect: boolean }>();
/** Clients whose socket has not closed: each test's start is marked on them. */
const openClients = new Set<Client>();
/** The stack a client was opened on with `connect`. */
const stackOf = new WeakMap<Client, TestStack>();

beforeEach(() => {
  // A client's waits see only what arrives from here on, whoever opened it.
  for (const client of openClients) client.mark();
  current = { clients: [], stacks: [] };
});

afterEach(async () => {
  const owned = current;
  current = undefined;
  const problems: string[] = [];
  for (const [stack, initial] of running) {
    if (stack.emulator.dropDisconnect !== initial.dropDisconnect) {
      stack.emulator.dropDisconnect = initial.dropDisconnect;
      problems.push('the test left emulator.dropDisconnect changed (restore it in finally)');
    }
  }
  if (owned) {
    const byStack = new Map<TestStack | undefined, Client[]>();
    for (const client of owned.clients) {
      const stack = stackOf.get(client);
      byStack.set(stack, [...(byStack.get(stack) ?? []), client]);
    }
    for (const [stack, clients] of byStack) await closeAll(clients, stack);
    await Promise.all(owned.stacks.map((stack) => stack.stop()));
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
});

/**
 * Closes what is still open and waits for the close; on a stack still running, also until the
 * server has seen each close it answered and run `$disconnect`, and what that changed is
 * delivered: nothing of this test is in flight when the next one begins.
 */
async function closeAll(clients: Client[], stack: TestStack | undefined): Promise<void> {
  const live = () => stack !== undefined && running.has(stack);
  const before = stack?.emulator.closedConnections ?? 0;
  const closing = clients.filter((client) => client.socket.readyState === WebSocket.OPEN);
  for (const client of closing) client.socket.close(1000);
  await Promise.all(clients.map((client) => client.closed));
  if (!stack || !live()) return;
  // The server echoes our close frame (1000, no reason) only if it had not closed the connection
  // itself (its own close frames carry a reason): those are the ends still to count.
  const answered = (await Promise.all(closing.map((client) => client.closed))).filter(({ code, reason }) => code === 1000 && reason === '');
  while (live() && stack.emulator.closedConnections < before + answered.length) await new Promise((resolve) => setImmediate(resolve));
  if (live()) await stack.delivered();
}

export function uniqueWorkspace(): string {
  return `ws-${randomUUID().slice(0, 8)}`;
}

export class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
  }
}

type Waiter = {
  predicate: (message: ServerMessage) => boolean;
  resolve: (message: ServerMessage) => void;
  reject: (why: string) => void;
};

/**
 * A real WebSocket client that records what it receives. Opened in a test, it is closed when
 * the test ends (see the fixture above); its waits see only messages received after the current
 * test began or after its last `mark()`, whichever is later.
 */
export class Client {
  /** Every message since the connection opened (waits and `presenceOf` look from `mark()` on). */
  readonly messages: ServerMessage[] = [];
  /** Frames as received, `presence` batches whole. */
  readonly frames: WireMessage[] = [];
  private waiters: Waiter[] = [];
  /** Where waits start by default: the current test's start or the last `mark()`. */
  private from = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as WireMessage;
      this.frames.push(frame);
      const entries: ServerMessage[] =
        frame.type === 'presence' ? frame.changes.map((change) => ({ type: 'presence' as const, ...change })) : [frame];
      for (const message of entries) {
        this.messages.push(message);
        this.waiters = this.waiters.filter((waiter) => {
          if (!waiter.predicate(message)) return true;
          waiter.resolve(message);
          return false;
        });
      }
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => {
        // Every message came before the close: a wait still pending can never be met.
        for (const waiter of this.waiters) waiter.reject(`the connection closed (${code})`);
        resolve({ code, reason: String(reason) });
      }),
    );
    openClients.add(this);
    void this.closed.then(() => openClients.delete(this));
    current?.clients.push(this);
  }

  static open(wsUrl: string, token: string, path = ''): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${wsUrl}${path}?token=${encodeURIComponent(token)}`);
      socket.once('open', () => resolve(new Client(socket)));
      socket.once('unexpected-response', (_request, response) => {
        reject(new HandshakeRefused(response.statusCode ?? 0));
        response.resume();
      });
      socket.once('error', reject);
    });
  }

  send(message: string | object): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /**
   * From now on, waits and `presenceOf` see only later messages. Take it before the action
   * whose answer a test waits for. Returns the position, for `{ since }`.
   */
  mark(): number {
    this.from = this.messages.length;
    return this.from;
  }

  /**
   * The first matching message received from `since` on (by default, since the current test
   * began or the last `mark()`), already here or to come; fails after `timeoutMs`. `{ since: 0 }`
   * looks back to the connection's start.
   */
  next<T extends ServerMessage['type']>(
    type: T,
    where: (message: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    { since = this.from, timeoutMs = 5000 }: { since?: number; timeoutMs?: number } = {},
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const predicate = (message: ServerMessage) =>
      message.type === type && where(message as Extract<ServerMessage, { type: T }>);
    const seen = this.messages.slice(since).find(predicate);
    if (seen) return Promise.resolve(seen as Extract<ServerMessage, { type: T }>);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as Extract<ServerMessage, { type: T }>);
        },
        reject: (why) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((other) => other !== waiter);
          reject(new Error(`no ${type} message (${why}); received from #${since} on ${JSON.stringify(this.messages.slice(since))}`));
        },
      };
      const timer = setTimeout(() => waiter.reject(`not within ${timeoutMs} ms`), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Presence messages about one user, in order, from `since` on (by default as `next`). */
  presenceOf(userId: string, { since = this.from }: { since?: number } = {}) {
    return this.messages.slice(since).filter((message) => message.type === 'presence' && message.userId === userId);
  }

  /** Sends a request and waits for its effect: the snapshot that answers `getPresence`. */
  async snapshot() {
    const since = this.messages.length;
    this.send({ action: 'getPresence' });
    return this.next('snapshot', () => true, { since });
  }

  close(code = 1000): Promise<{ code: number; reason: string }> {
    this.socket.close(code);
    return this.closed;
  }

  /** The network goes away: no close frame. */
  drop(): void {
    this.socket.terminate();
  }
}
