/**
 * PROTOCOL.md end to end: real `ws` clients against the local stack (the emulator, the real
 * handlers, DynamoDB Local). Time is a manual clock and sweeps are explicit, so nothing waits
 * for a timer. "Nothing was sent" is checked after a barrier: the emulator settles (every
 * handler and post done), then the observer's own getPresence round trip, which the server
 * sends after anything posted before it.
 *
 * The stack is shared by the file; each test has a workspace of its own, and the support's
 * per-test fixture closes every client a test opened (waiting for its `$disconnect`), so no test
 * needs to close its clients and none sees another's messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import {
  type Client,
  E2E_SECRET,
  HandshakeRefused,
  type TestStack,
  startTestStack,
  uniqueWorkspace,
} from '#test/support/stack.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const LEASE_MS = 6000;
const GRACE_MS = 2000;
const IDLE_MS = 30_000;

/** Every handler done and its changes delivered, then a round trip on each observer: what was sent has arrived. */
async function barrier(...observers: Client[]): Promise<void> {
  await stack.delivered();
  for (const observer of observers) await observer.snapshot();
}

/**
 * Advances time in steps, heartbeating `keepAlive` so their leases hold. Handlers read the clock
 * when they run, so each step waits until its heartbeats were handled.
 */
async function advance(ms: number, keepAlive: Client[] = [], active = false): Promise<void> {
  await stack.delivered();
  const step = LEASE_MS / 3;
  for (let left = ms; left > 0; left -= step) {
    stack.clock.advance(Math.min(step, left));
    for (const client of keepAlive) await stack.deliver(client, { action: 'heartbeat', active });
  }
}

function presence(client: Client, userId: string) {
  return client.presenceOf(userId).map((message) => message.type === 'presence' && `${message.reason}:${message.previous}->${message.status}`);
}

async function http(path: string, token: string, init: RequestInit = {}) {
  const response = await fetch(`${stack.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('handshake', () => {
  it('refuses missing, malformed, wrongly signed, expired and unsigned tokens with 401, a service token with 403', async () => {
    const workspace = uniqueWorkspace();
    const secret = new TextEncoder().encode(E2E_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ workspace }).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime(now - 60).sign(secret);
    const wrongKey = await new SignJWT({ workspace })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode('another-secret-0123456789abcdef-xyz'));
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'a', workspace, exp: now + 60 })).toString('base64url');
    const unsigned = `${header}.${payload}.`;
    const badId = await new SignJWT({ workspace: 'acme/../other' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('a')
      .setExpirationTime(now + 60)
      .sign(secret);
    for (const rawToken of ['', 'not-a-jwt', expired, wrongKey, unsigned, badId]) {
      await expect(stack.connect({ rawToken })).rejects.toMatchObject({ status: 401 });
    }
    await expect(stack.connect({ workspace, user: 'robot', role: 'service' })).rejects.toEqual(new HandshakeRefused(403));
    // Nothing of the refused attempts reached the workspace.
    const observer = await stack.connect({ workspace, user: 'observer' });
    const snapshot = await observer.snapshot();
    expect(snapshot.users.map((user) => user.userId)).toEqual(['observer']);
  });
});

describe('presence between teammates', () => {
  it('two agents see each other: connect, manual, snapshot with offline users, and disconnect after the grace', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice', name: 'Alice', teams: ['sales'] });
    const bob = await stack.connect({ workspace, user: 'bob', name: 'Bob' });
    const connected = await alice.next('presence', (m) => m.userId === 'bob');
    expect(connected).toMatchObject({ name: 'Bob', teams: [], status: 'online', previous: 'offline', reason: 'connect' });

    bob.send({ action: 'setStatus', status: 'away' });
    expect(await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'manual')).toMatchObject({ status: 'away', previous: 'online' });
    // The user's own connections get it too.
    await bob.next('presence', (m) => m.userId === 'bob' && m.reason === 'manual');

    await stack.close(bob);
    await barrier(alice);
    expect(presence(alice, 'bob')).toEqual(['connect:offline->online', 'manual:online->away']);
    await advance(GRACE_MS + 500, [alice]);
    await stack.sweep();
    expect(await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'disconnect')).toMatchObject({ status: 'offline', previous: 'away' });

    const snapshot = await alice.snapshot();
    expect(snapshot.users.map(({ userId, status, name, teams }) => ({ userId, status, name, teams }))).toEqual([
      { userId: 'alice', status: 'online', name: 'Alice', teams: ['sales'] },
      { userId: 'bob', status: 'offline', name: 'Bob', teams: [] },
    ]);
  });

  it('reconnecting brings the chosen status back (connect), and a reload within the grace is invisible', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice' });
    const bob = await stack.connect({ workspace, user: 'bob' });
    await stack.deliver(bob, { action: 'setStatus', status: 'away' });

    // Reload: close, and a new connection within the grace.
    await stack.close(bob);
    stack.clock.advance(GRACE_MS / 2);
    const reloaded = await stack.connect({ workspace, user: 'bob' });
    await advance(GRACE_MS * 2, [alice, reloaded]);
    await stack.sweep();
    await barrier(alice);
    expect(presence(alice, 'bob')).toEqual(['connect:offline->online', 'manual:online->away']);
    expect((await reloaded.snapshot()).users.find((user) => user.userId === 'bob')?.status).toBe('away');

    // Gone past the grace, then back: the chosen status (away) returns with reason connect.
    await stack.close(reloaded);
    await advance(GRACE_MS + 500, [alice]);
    await stack.sweep();
    await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'disconnect');
    alice.mark();
    await stack.connect({ workspace, user: 'bob' });
    expect(await alice.next('presence', (m) => m.userId === 'bob')).toMatchObject({ reason: 'connect', previous: 'offline', status: 'away' });
  });

  it('several tabs are one presence: one connect, nothing when one tab closes', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice' });
    const tab1 = await stack.connect({ workspace, user: 'bob' });
    const tab2 = await stack.connect({ workspace, user: 'bob' });
    await stack.close(tab1);
    await advance(GRACE_MS + 500, [alice, tab2]);
    await stack.sweep();
    await barrier(alice);
    expect(presence(alice, 'bob')).toEqual(['connect:offline->online']);
    await stack.close(tab2);
    await advance(GRACE_MS + 500, [alice]);
    await stack.sweep();
    await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'disconnect');
  });

  it('a connection that dies without $disconnect times out after the lease, and the query is exact before any sweep', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice' });
    const bob = await stack.connect({ workspace, user: 'bob' });
    const serviceToken = await stack.token({ workspace, user: 'assigner', role: 'service' });
    const online = async () => ((await http(`/workspaces/${workspace}/agents?status=online`, serviceToken)).body.agents as { userId: string }[]).map((a) => a.userId);
    expect(await online()).toEqual(['alice', 'bob']);

    stack.emulator.dropDisconnect = true;
    try {
      await stack.close(bob, 'drop');
      await advance(LEASE_MS + 1000, [alice]);
    } finally {
      stack.emulator.dropDisconnect = false;
    }
    // No sweep yet: the query applies the lease at read time.
    expect(await online()).toEqual(['alice']);
    await stack.sweep();
    expect(await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'timeout')).toMatchObject({ previous: 'online', status: 'offline' });
  });

  it('idle takes an agent offline and activity restores the chosen status', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice' });
    const bob = await stack.connect({ workspace, user: 'bob' });
    bob.send({ action: 'setStatus', status: 'away' });
    await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'manual');
    // Alice stays active, Bob only keeps his connection alive.
    for (let elapsed = 0; elapsed <= IDLE_MS + 2 * LEASE_MS; elapsed += LEASE_MS / 3) {
      stack.clock.advance(LEASE_MS / 3);
      await stack.deliver(alice, { action: 'heartbeat', active: true });
      await stack.deliver(bob, { action: 'heartbeat', active: false });
      await stack.sweep();
    }
    expect(await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'idle')).toMatchObject({ previous: 'away', status: 'offline' });
    // Her own connect may reach her (delivery can run after her $connect returned); nothing else of hers does.
    expect(presence(alice, 'alice').filter((change) => change !== 'connect:offline->online')).toEqual([]);

    bob.send({ action: 'heartbeat', active: true });
    expect(await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'active')).toMatchObject({ previous: 'offline', status: 'away' });
  });

  it('logout closes every tab with loggedOut, keeps the choice, and login restores it', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice' });
    const tab1 = await stack.connect({ workspace, user: 'bob' });
    const tab2 = await stack.connect({ workspace, user: 'bob' });
    tab1.send({ action: 'setStatus', status: 'away' });
    await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'manual');

    tab1.send({ action: 'logout' });
    expect(await alice.next('presence', (m) => m.userId === 'bob' && m.reason === 'logout')).toMatchObject({ previous: 'away', status: 'offline' });
    for (const tab of [tab1, tab2]) {
      await tab.next('loggedOut');
      await tab.closed;
    }
    const since = alice.mark();
    await stack.connect({ workspace, user: 'bob' });
    expect(await alice.next('presence', (m) => m.userId === 'bob', { since })).toMatchObject({
      reason: 'connect',
      previous: 'offline',
      status: 'away',
    });
  });
});

describe('isolation and bad input', () => {
  it('a workspace never sees another one, on the socket or over HTTP', async () => {
    const [a, b] = [uniqueWorkspace(), uniqueWorkspace()];
    const inB = await stack.connect({ workspace: b, user: 'carol' });
    const inA = await stack.connect({ workspace: a, user: 'alice' });
    inA.send({ action: 'setStatus', status: 'away' });
    await inA.next('presence', (m) => m.reason === 'manual');
    await barrier(inB);
    // Only B's own user: nothing of workspace A.
    expect(inB.messages.filter((m) => m.type === 'presence' && m.userId !== 'carol')).toEqual([]);
    expect((await inB.snapshot()).users.map((user) => user.userId)).toEqual(['carol']);
    const tokenB = await stack.token({ workspace: b, user: 'carol', role: 'admin' });
    expect((await http(`/workspaces/${a}/agents?status=away`, tokenB)).status).toBe(403);
    expect((await http(`/workspaces/${a}/agents/alice`, tokenB)).status).toBe(403);
    expect((await http(`/workspaces/${a}/settings`, tokenB, { method: 'PUT', body: '{"idleTimeoutSeconds":120}' })).status).toBe(403);
  });

  it('bad messages get typed errors to the sender only and change nothing', async () => {
    const workspace = uniqueWorkspace();
    const alice = await stack.connect({ workspace, user: 'alice' });
    const bob = await stack.connect({ workspace, user: 'bob' });
    const cases: Array<[string | object, string]> = [
      ['not json', 'invalid_json'],
      [{ action: 'dance' }, 'unknown_action'],
      [{ hello: 1 }, 'unknown_action'],
      [{ action: 'heartbeat', active: 'yes' }, 'invalid_message'],
      [{ action: 'setStatus', status: 'offline' }, 'invalid_status'],
      [{ action: 'setStatus', status: 'busy' }, 'invalid_status'],
      [{ action: 'setStatus', status: '' }, 'invalid_status'],
      [{ action: 'getPresence', extra: true }, 'invalid_message'],
    ];
    for (const [message, code] of cases) {
      const since = bob.mark();
      bob.send(message);
      const error = await bob.next('error', () => true, { since });
      expect({ message, code: error.code }).toEqual({ message, code });
      expect(error.message).toEqual(expect.any(String));
    }
    await barrier(alice);
    expect(presence(alice, 'bob')).toEqual(['connect:offline->online']);
    expect(alice.messages.filter((m) => m.type === 'error')).toEqual([]);
    const agent = await http(`/workspaces/${workspace}/agents/bob`, await stack.token({ workspace, user: 'alice' }));
    expect(agent.body).toMatchObject({ userId: 'bob', status: 'online' });
  });

  it('a frame over 32 KB closes the connection with 1009', async () => {
    const bob = await stack.connect({ workspace: uniqueWorkspace(), user: 'bob' });
    bob.send({ action: 'heartbeat', pad: 'x'.repeat(40 * 1024) });
    expect((await bob.closed).code).toBe(1009);
  });
});

describe('restart', () => {
  it('a new stack on the same table keeps every chosen status', async () => {
    const workspace = uniqueWorkspace();
    const first = await startTestStack({ env: { PRESENCE_TABLE_NAME: `restart-${workspace}` } });
    const bob = await first.connect({ workspace, user: 'bob' });
    bob.send({ action: 'setStatus', status: 'away' });
    await bob.next('presence', (m) => m.reason === 'manual');
    await first.stop();
    expect((await bob.closed).code).toBe(1001);

    const second = await startTestStack({ env: { PRESENCE_TABLE_NAME: `restart-${workspace}` } });
    try {
      const again = await second.connect({ workspace, user: 'bob' });
      const snapshot = await again.snapshot();
      expect(snapshot.users.find((user) => user.userId === 'bob')?.status).toBe('away');
    } finally {
      await second.stop();
    }
  });
  it('a crash (no $disconnect at all) leaves no ghost online, and chosen statuses survive', async () => {
    const workspace = uniqueWorkspace();
    const table = { PRESENCE_TABLE_NAME: `crash-${workspace}` };
    const first = await startTestStack({ env: table });
    const alice = await first.connect({ workspace, user: 'alice' });
    const bob = await first.connect({ workspace, user: 'bob' });
    await first.deliver(bob, { action: 'setStatus', status: 'away' });
    first.emulator.dropDisconnect = true; // the process dies: nobody runs $disconnect
    await first.stop();
    await Promise.all([alice.closed, bob.closed]);

    const second = await startTestStack({ env: table });
    try {
      second.clock.advance(LEASE_MS + 1000);
      const service = await second.token({ workspace, user: 'assigner', role: 'service' });
      const ask = async (status: string) =>
        (((await (await fetch(`${second.httpUrl}/workspaces/${workspace}/agents?status=${status}`, { headers: { authorization: `Bearer ${service}` } })).json()) as {
          agents: { userId: string }[];
        }).agents.map((agent) => agent.userId));
      // Before any sweep: the leases have passed, so nobody is online or away.
      expect(await ask('online')).toEqual([]);
      expect(await ask('away')).toEqual([]);
      expect(await ask('offline')).toEqual(['alice', 'bob']);
      // The dead connections are younger than API Gateway's $connect window, so a 410 for them is
      // not taken as proof; their leases have passed, and the sweep publishes the timeouts.
      const observer = await second.connect({ workspace, user: 'observer' });
      const snapshot = await observer.snapshot();
      expect(snapshot.users.map(({ userId, status }) => `${userId}:${status}`)).toEqual(['alice:offline', 'bob:offline', 'observer:online']);
      await second.sweep();
      await observer.next('presence', (m) => m.userId === 'alice' && m.reason === 'timeout');
      await observer.next('presence', (m) => m.userId === 'bob' && m.reason === 'timeout');
      await second.connect({ workspace, user: 'bob' });
      expect(await observer.next('presence', (m) => m.userId === 'bob' && m.reason === 'connect')).toMatchObject({ status: 'away' });
    } finally {
      await second.stop();
    }
  });
});
