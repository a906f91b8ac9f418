/**
 * End-to-end support: the local stack started in-process on free ports against the shared
 * DynamoDB Local (own table per stack), with a manual clock and manual sweeps, and real `ws`
 * clients that wait for messages instead of sleeping.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import WebSocket from 'ws';
import type { PresenceChange, ServerMessage as WireMessage } from '#app/messages.ts';

/**
 * What a test client records: every message as sent, except that a `presence` message is
 * recorded as one entry per change it carries (tests follow users' changes, not batches).
 */
export type ServerMessage = Exclude<WireMessage, { type: 'presence' }> | (PresenceChange & { type: 'presence' });
import { type LocalStack, type LocalStackOptions, startLocalStack } from '#local/stack.ts';
import { mintToken, type TokenRequest } from '#local/tokens.ts';
import { ManualClock, silentLogger } from '#test/support/harness.ts';

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
  return {
    ...stack,
    clock,
    token,
    connect: async (request) => Client.open(stack.wsUrl, 'rawToken' in request ? request.rawToken : await token(request)),
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
  };
}

export function uniqueWorkspace(): string {
  return `ws-${randomUUID().slice(0, 8)}`;
}

export class HandshakeRefused extends Error {
  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
  }
}

type Waiter = { predicate: (message: ServerMessage) => boolean; resolve: (message: ServerMessage) => void };

/** A real WebSocket client that records what it receives. */
export class Client {
  readonly messages: ServerMessage[] = [];
  /** Frames as received, `presence` batches whole. */
  readonly frames: WireMessage[] = [];
  private waiters: Waiter[] = [];
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
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
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

  /** How many messages arrived so far: pass it as `since` to wait only for later ones. */
  mark(): number {
    return this.messages.length;
  }

  /**
   * The first matching message, already received (from index `since` on) or to come; fails
   * after `timeoutMs`.
   */
  next<T extends ServerMessage['type']>(
    type: T,
    where: (message: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    { since = 0, timeoutMs = 5000 }: { since?: number; timeoutMs?: number } = {},
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const predicate = (message: ServerMessage) =>
      message.type === type && where(message as Extract<ServerMessage, { type: T }>);
    const seen = this.messages.slice(since).find(predicate);
    if (seen) return Promise.resolve(seen as Extract<ServerMessage, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.resolve !== done);
        reject(new Error(`no ${type} message within ${timeoutMs} ms; received ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      const done = (message: ServerMessage) => {
        clearTimeout(timer);
        resolve(message as Extract<ServerMessage, { type: T }>);
      };
      this.waiters.push({ predicate, resolve: done });
    });
  }

  /** Presence messages about one user, in order. */
  presenceOf(userId: string) {
    return this.messages.filter((message) => message.type === 'presence' && message.userId === userId);
  }

  /** Sends a request and waits for its effect: the snapshot that answers `getPresence`. */
  async snapshot() {
    const since = this.mark();
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
