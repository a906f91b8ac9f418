/**
 * The client SDK on Node (`ws`) against the local stack: rosters, setStatus, idle and activity,
 * reconnect across a stack restart with fresh tokens, the handover before API Gateway's
 * connection lifetime, logout, and backoff. The stack's clock is manual; the client's own timers
 * are real and short, and tests wait for the client's events, not for time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { until } from '#test/support/client-events.ts';
import { backoffDelay, PresenceClient, type PresenceClientError, type PresenceClientOptions } from '../../client/src/index.ts';
import { freePort } from '#local/dynamodb-local.ts';
import { type TestStack, startTestStack, uniqueWorkspace } from '#test/support/stack.ts';
import { mintToken, type TokenRequest } from '#local/tokens.ts';

/** A lease far longer than the clock jumps below, so only idle and closes change statuses. */
const CLIENT_ENV = { PRESENCE_CONNECTION_LEASE_SECONDS: '120', PRESENCE_IDLE_TIMEOUT_SECONDS: '30' };

let stack: TestStack;
const clients: PresenceClient[] = [];
beforeAll(async () => {
  stack = await startTestStack({ env: CLIENT_ENV });
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => {
  await stack?.stop();
});

interface Made {
  client: PresenceClient;
  tokens: number;
  errors: PresenceClientError[];
}

function make(target: TestStack, request: TokenRequest, options: Partial<PresenceClientOptions> = {}): Made {
  const made: Made = { client: undefined as unknown as PresenceClient, tokens: 0, errors: [] };
  made.client = new PresenceClient({
    url: target.wsUrl,
    token: async () => {
      made.tokens++;
      return target.token(request);
    },
    WebSocket,
    activity: 'manual',
    heartbeatIntervalMs: 100,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  made.client.on('error', (error) => made.errors.push(error));
  clients.push(made.client);
  return made;
}

const statusOf = (client: PresenceClient, userId: string) => client.roster.get(userId)?.status;

/** The stack's connections opened since `before` was taken: the test's own, whatever earlier tests left. */
const openedSince = (target: TestStack, before: Set<string>) => target.emulator.connectionIds().filter((id) => !before.has(id));

describe('PresenceClient on Node', () => {
  it('keeps both rosters live and confirms setStatus', async () => {
    const workspace = uniqueWorkspace();
    const alice = make(stack, { workspace, user: 'alice', name: 'Alice', teams: ['sales'] }).client;
    const bob = make(stack, { workspace, user: 'bob', name: 'Bob' }).client;
    const states: string[] = [];
    alice.on('connection', (state) => states.push(state));
    await alice.connect();
    expect(states).toEqual(['connecting', 'open']);
    expect(alice.connectionState).toBe('open');
    await bob.connect();
    await until(alice, () => statusOf(alice, 'bob') === 'online', 'alice to see bob');
    expect([...bob.roster.values()].map(({ userId, name, teams, status }) => ({ userId, name, teams, status }))).toEqual([
      { userId: 'alice', name: 'Alice', teams: ['sales'], status: 'online' },
      { userId: 'bob', name: 'Bob', teams: [], status: 'online' },
    ]);
    expect(bob.me?.userId).toBe('bob');

    const seen: string[] = [];
    alice.on('presence', (event) => event.userId === 'bob' && seen.push(`${event.reason}:${event.status}`));
    await bob.setStatus('away');
    expect(bob.me?.status).toBe('away');
    await until(alice, () => statusOf(alice, 'bob') === 'away', 'alice to see bob away');
    expect(seen).toEqual(['manual:away']);
    // Already in effect: resolves at once; anything but online/away is refused.
    await bob.setStatus('away');
    await expect(bob.setStatus('offline' as 'away')).rejects.toMatchObject({ code: 'invalid_status' });
    await expect(bob.setStatus('busy' as 'away')).rejects.toMatchObject({ code: 'invalid_status' });
  });

  it('goes idle-offline without activity and comes back with markActive()', async () => {
    const workspace = uniqueWorkspace();
    const observer = await stack.connect({ workspace, user: 'observer' });
    const bob = make(stack, { workspace, user: 'bob' }).client;
    await bob.connect();
    await bob.setStatus('away');

    // Past the idle timeout: the observer reports activity (and waits until it is recorded),
    // bob's client keeps beating without any.
    stack.clock.advance(31_000);
    await stack.deliver(observer, { action: 'heartbeat', active: true });
    await stack.sweep();
    expect(await observer.next('presence', (m) => m.userId === 'bob' && m.reason === 'idle')).toMatchObject({ previous: 'away' });
    await until(bob, () => bob.me?.status === 'offline', 'bob idle on his own roster');

    bob.markActive(); // offline: sends a heartbeat with active:true at once
    expect(await observer.next('presence', (m) => m.userId === 'bob' && m.reason === 'active')).toMatchObject({ status: 'away' });
    await until(bob, () => bob.me?.status === 'away', 'bob back to away');
  });

  it('reconnects after the stack restarts, with a fresh token, and re-syncs the roster', async () => {
    const workspace = uniqueWorkspace();
    const ports = { httpPort: await freePort(), wsPort: await freePort(), managementPort: await freePort() };
    const table = { PRESENCE_TABLE_NAME: `client-restart-${workspace}` };
    const first = await startTestStack({ ...ports, env: { ...CLIENT_ENV, ...table } });
    const made = make(first, { workspace, user: 'alice' });
    const alice = made.client;
    await alice.connect();
    const states: string[] = [];
    alice.on('connection', (state) => states.push(state));
    await first.stop();
    await until(alice, () => alice.connectionState === 'reconnecting', 'reconnecting');

    const second = await startTestStack({ ...ports, env: { ...CLIENT_ENV, ...table } });
    try {
      // While alice was away from the server, bob came and chose away.
      const bob = await second.connect({ workspace, user: 'bob' });
      await second.deliver(bob, { action: 'setStatus', status: 'away' });
      const tokensBefore = made.tokens;
      await until(alice, () => alice.connectionState === 'open' && statusOf(alice, 'bob') === 'away', 'the re-synced roster', 10_000);
      expect(made.tokens).toBeGreaterThan(tokensBefore - 1);
      expect(made.tokens).toBeGreaterThanOrEqual(2);
      expect(states.at(-1)).toBe('open');
      expect(states).toContain('reconnecting');
      expect(made.errors.every((error) => error.code === 'connection_failed')).toBe(true);
    } finally {
      alice.close();
      await second.stop();
    }
  });

  it('hands over to a new connection before the connection lifetime, and nobody sees it go offline', async () => {
    const short = await startTestStack({ env: CLIENT_ENV, maxLifetimeMs: 3000 });
    try {
      const workspace = uniqueWorkspace();
      const observer = make(short, { workspace, user: 'observer' }, { maxConnectionAgeMs: 1000 }).client;
      await observer.connect();
      const seen: string[] = [];
      observer.on('presence', (event) => event.userId === 'alice' && seen.push(`${event.reason}:${event.status}`));
      const made = make(short, { workspace, user: 'alice' }, { maxConnectionAgeMs: 1000 });
      await made.client.connect();
      const states: string[] = [];
      made.client.on('connection', (state) => states.push(state));
      // Three handovers, each with a fresh token and an overlap; the 3 s lifetime never hits (2 s of
      // margin a handover, so a busy machine does not turn this into a lifetime close).
      await until(made.client, () => made.tokens >= 4, 'three handovers', 10_000);
      await short.delivered();
      short.clock.advance(5000); // past the reconnect grace
      await short.sweep();
      // The observer's own change comes after anything the sweep sent it.
      await observer.setStatus('away');
      expect(seen).toEqual(['connect:online']);
      expect(observer.roster.get('alice')?.status).toBe('online');
      expect(states).toEqual([]);
      expect(made.errors).toEqual([]);
      expect(made.client.connectionState).toBe('open');
    } finally {
      await short.stop();
    }
  });

  it('when its token ends, the server closes the connection and the client reconnects with a fresh one, unseen', async () => {
    // Prepare: the stack's clock at real time (the handshake checks tokens against it), and tokens
    // valid for 20 s: less than the idle timeout, so only the token's end happens.
    // (The clock only moves forward: later tests mint tokens for 12 h from real time, so they still hold.)
    stack.clock.current = Math.max(stack.clock.now(), Date.now());
    const before = new Set(stack.emulator.connectionIds());
    const workspace = uniqueWorkspace();
    const observer = make(stack, { workspace, user: 'observer' }).client;
    await observer.connect();
    const seen: string[] = [];
    observer.on('presence', (event) => event.userId === 'alice' && seen.push(`${event.reason}:${event.status}`));
    const made = make(stack, { workspace, user: 'alice' });
    const ends: number[] = [];
    made.client = new PresenceClient({
      url: stack.wsUrl,
      WebSocket,
      activity: 'manual',
      heartbeatIntervalMs: 100,
      token: async () => {
        made.tokens++;
        const nowMs = Math.max(Date.now(), stack.clock.now());
        ends.push(Math.floor(nowMs / 1000) + 20);
        return mintToken({ workspace, user: 'alice', expiresIn: 20 }, stack.signing, nowMs);
      },
    });
    clients.push(made.client);
    made.client.on('error', (error) => made.errors.push(error));
    await made.client.connect();
    const states: string[] = [];
    made.client.on('connection', (state) => states.push(state));

    // Act: the stack's clock passes the token's end; the next heartbeat is refused.
    stack.clock.current = ends[0]! * 1000;
    await until(made.client, () => made.tokens === 2 && made.client.connectionState === 'open' && openedSince(stack, before).length >= 2, 'a fresh connection');
    await until(made.client, () => openedSince(stack, before).length === 2, 'the expired connection closed');
    await stack.delivered();
    await observer.setStatus('away');

    // Assess: nobody saw alice leave, and the client never reported a problem.
    expect(seen).toEqual(['connect:online']);
    expect(states).toEqual([]);
    expect(made.errors).toEqual([]);
  });

  it("says too_many_connections when the user's connection cap refuses it, and backs off", async () => {
    // Prepare: alice already has the 20 connections the stack allows.
    const workspace = uniqueWorkspace();
    await Promise.all(Array.from({ length: 20 }, () => stack.connect({ workspace, user: 'alice' })));
    const made = make(stack, { workspace, user: 'alice' }, { reconnect: { minDelayMs: 20, maxDelayMs: 60_000 }, random: () => 0.99 });

    // Act
    void made.client.connect().catch(() => {});
    await until(made.client, () => made.errors.length > 0, 'the refusal');

    // Assess: told why, and the next attempt waits the longest backoff (about a minute), not 20 ms.
    expect(made.errors.map((error) => error.code)).toEqual(['too_many_connections']);
    expect(made.client.connectionState).toBe('reconnecting');
    expect(made.tokens).toBe(1);
  });

  it('logout ends every tab of the user and nothing reconnects', async () => {
    const before = new Set(stack.emulator.connectionIds());
    const workspace = uniqueWorkspace();
    const observer = await stack.connect({ workspace, user: 'observer' });
    const tab1 = make(stack, { workspace, user: 'alice' });
    const tab2 = make(stack, { workspace, user: 'alice' });
    await tab1.client.connect();
    await tab2.client.connect();
    await tab1.client.logout();
    expect(tab1.client.connectionState).toBe('closed');
    await until(tab2.client, () => tab2.client.connectionState === 'closed', 'the other tab closed');
    await observer.next('presence', (m) => m.userId === 'alice' && m.reason === 'logout');
    const tokens = [tab1.tokens, tab2.tokens];
    await stack.deliver(observer);
    expect([tab1.tokens, tab2.tokens]).toEqual(tokens);
    expect(openedSince(stack, before)).toHaveLength(1); // the observer only
    await expect(tab1.client.setStatus('online')).rejects.toMatchObject({ code: 'not_connected' });
  });

  /**
   * Alice connected to a stack that stopped, waiting out a backoff far longer than any test (only
   * wake() or logout() can bring her back in time), and the stack started again on the same ports and table.
   */
  async function aliceWaitingOnARestartedStack(label: string) {
    const workspace = uniqueWorkspace();
    const ports = { httpPort: await freePort(), wsPort: await freePort(), managementPort: await freePort() };
    const table = { PRESENCE_TABLE_NAME: `client-${label}-${workspace}` };
    const first = await startTestStack({ ...ports, env: { ...CLIENT_ENV, ...table } });
    const made = make(first, { workspace, user: 'alice' }, { reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 }, random: () => 0.99 });
    await made.client.connect();
    await first.stop();
    await until(made.client, () => made.client.connectionState === 'reconnecting', 'reconnecting');
    const second = await startTestStack({ ...ports, env: { ...CLIENT_ENV, ...table } });
    return { workspace, made, second };
  }

  it('wake() reconnects at once instead of waiting out the backoff', async () => {
    const { made, second } = await aliceWaitingOnARestartedStack('wake');
    try {
      made.client.wake();
      await until(made.client, () => made.client.connectionState === 'open', 'open again after wake()');
    } finally {
      made.client.close();
      await second.stop();
    }
  });

  it('logout while reconnecting waits for the connection, logs out, and nothing reconnects', async () => {
    // logout itself must reconnect: the backoff would not in time.
    const { workspace, made, second } = await aliceWaitingOnARestartedStack('logout');
    try {
      const observer = await second.connect({ workspace, user: 'observer' });
      await made.client.logout();
      expect(made.client.connectionState).toBe('closed');
      await observer.next('presence', (m) => m.userId === 'alice' && m.reason === 'logout' && m.status === 'offline');
      const tokens = made.tokens;
      await second.deliver(observer);
      expect(second.emulator.connectionIds()).toHaveLength(1); // the observer only
      expect(made.tokens).toBe(tokens);
    } finally {
      made.client.close();
      await second.stop();
    }
  });

  it('retries an unreachable server with a fresh token each time until closed', async () => {
    const port = await freePort();
    const made = make(stack, { workspace: uniqueWorkspace(), user: 'alice' }, { url: `ws://127.0.0.1:${port}/` });
    const connecting = made.client.connect();
    await until(made.client, () => made.tokens >= 3 && made.client.connectionState === 'reconnecting', 'three attempts');
    expect(made.errors.length).toBeGreaterThanOrEqual(2);
    expect(made.errors[0]).toMatchObject({ code: 'connection_failed' });
    made.client.close();
    await expect(connecting).rejects.toMatchObject({ code: 'closed' });
    expect(made.client.connectionState).toBe('closed');
  });
});

describe('backoff', () => {
  it('is full jitter under a doubling, capped ceiling', () => {
    expect(backoffDelay(0, 500, 30_000, () => 0)).toBe(0);
    expect(backoffDelay(0, 500, 30_000, () => 0.999)).toBe(499);
    expect(backoffDelay(3, 500, 30_000, () => 0.999)).toBe(3996);
    expect(backoffDelay(10, 500, 30_000, () => 0.999)).toBe(29_970);
    expect(backoffDelay(1000, 500, 30_000, () => 0.999)).toBe(29_970);
    expect(backoffDelay(5, 500, 30_000, () => 0.5)).toBe(8000);
  });
});
