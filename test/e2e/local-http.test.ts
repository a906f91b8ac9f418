/**
 * The local stack's HTTP side and its stand-ins for AWS: the HTTP API through the same handler as
 * Lambda, the development token endpoint, request limits, and PresenceChanged events POSTed to
 * PRESENCE_EVENTS_WEBHOOK in EventBridge's envelope.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStack, startTestStack, uniqueWorkspace } from '#test/support/stack.ts';

let stack: TestStack;
let webhook: Server;
const delivered: Array<Record<string, unknown>> = [];
const waiting: Array<() => void> = [];

beforeAll(async () => {
  webhook = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += String(chunk)));
    request.on('end', () => {
      delivered.push(JSON.parse(body) as Record<string, unknown>);
      for (const wake of waiting.splice(0)) wake();
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const { port } = webhook.address() as { port: number };
  stack = await startTestStack({ env: { PRESENCE_EVENTS_WEBHOOK: `http://127.0.0.1:${port}/events` } });
});
afterAll(async () => {
  await stack?.stop();
  webhook?.close();
});

async function deliveredFor(workspaceId: string, count: number) {
  const mine = () => delivered.filter((event) => (event.detail as { workspaceId: string }).workspaceId === workspaceId);
  while (mine().length < count) await new Promise<void>((resolve) => waiting.push(resolve));
  return mine();
}

describe('PresenceChanged webhook', () => {
  it('receives each transition in order, in the envelope EventBridge delivers', async () => {
    const workspace = uniqueWorkspace();
    const bob = await stack.connect({ workspace, user: 'bob' });
    await stack.deliver(bob, { action: 'setStatus', status: 'away' });
    bob.send({ action: 'logout' });
    await bob.next('loggedOut');
    const events = await deliveredFor(workspace, 3);
    expect(events.map((event) => (event.detail as { reason: string }).reason)).toEqual(['connect', 'manual', 'logout']);
    expect(events[1]).toMatchObject({
      version: '0',
      source: 'presence',
      'detail-type': 'PresenceChanged',
      detail: { workspaceId: workspace, userId: 'bob', status: 'away', previous: 'online', reason: 'manual', at: expect.any(Number) },
    });
    expect(events[1]?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe('AgentUnavailable webhook', () => {
  it('receives one AgentUnavailable at the deadline, in the envelope EventBridge delivers', async () => {
    const workspace = uniqueWorkspace();
    const admin = await stack.token({ workspace, user: 'root', role: 'admin' });
    const put = await fetch(`${stack.httpUrl}/workspaces/${workspace}/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{"unavailableAfterSeconds":30}',
    });
    expect(put.status).toBe(200);
    const bob = await stack.connect({ workspace, user: 'bob' });
    await stack.deliver(bob, { action: 'setStatus', status: 'away' });
    const left = stack.clock.now();
    stack.clock.advance(29_000);
    await stack.deliver(bob, { action: 'heartbeat', active: true });
    await stack.sweep();
    await stack.delivered();
    stack.clock.advance(1_000);
    await stack.sweep();
    await stack.delivered();
    await stack.sweep();
    await stack.delivered();
    const events = await deliveredFor(workspace, 3);
    const unavailable = events.filter((event) => event['detail-type'] === 'AgentUnavailable');
    expect(unavailable).toEqual([
      expect.objectContaining({
        source: 'presence',
        'detail-type': 'AgentUnavailable',
        detail: { workspaceId: workspace, userId: 'bob', status: 'away', since: left, at: left + 30_000 },
      }),
    ]);
  });
});

describe('supervisor controls through the local server', () => {
  it('an admin sets an agent away and signs them out: the agent\'s own client sees both, attributed', async () => {
    const workspace = uniqueWorkspace();
    const admin = await stack.token({ workspace, user: 'dana', role: 'admin' });
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${stack.httpUrl}/workspaces/${workspace}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    expect((await call('PUT', '/settings', { awayReasons: [{ id: 'lunch', label: 'Lunch' }] })).status).toBe(200);
    const alice = await stack.connect({ workspace, user: 'alice' });
    await alice.snapshot();
    const since = alice.mark();
    const set = await call('PUT', '/agents/alice/status', { status: 'away', awayReason: 'lunch' });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ userId: 'alice', status: 'away', awayReason: 'lunch', by: 'dana' });
    expect(await alice.next('presence', (change) => change.userId === 'alice' && change.reason === 'admin', { since })).toMatchObject({ status: 'away', reason: 'admin', awayReason: 'lunch', by: 'dana' });

    const out = await call('POST', '/agents/alice/logout');
    expect(out.status).toBe(200);
    expect(await alice.next('loggedOut', () => true, { since })).toMatchObject({ by: 'dana' });
    expect((await alice.closed).code).toBeGreaterThan(0);
    expect(await (await call('GET', '/agents/alice')).json()).toMatchObject({ status: 'offline', by: 'dana' });
  });
});

describe('HTTP API through the local server', () => {
  it('serves /healthz, the agents query and settings with PROTOCOL.md errors', async () => {
    const workspace = uniqueWorkspace();
    const admin = await stack.token({ workspace, user: 'root', role: 'admin' });
    const agent = await stack.token({ workspace, user: 'alice' });
    const get = (path: string, token?: string) =>
      fetch(`${stack.httpUrl}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

    expect(await (await get('/healthz')).json()).toEqual({ ok: true });
    const noToken = await get(`/workspaces/${workspace}/agents?status=online`);
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    expect((await get(`/workspaces/${workspace}/agents?status=offline&team=a&team=b`, agent)).status).toBe(400);
    expect((await get(`/workspaces/${workspace}/agents/nobody`, agent)).status).toBe(404);
    expect((await get(`/workspaces/${workspace}/agents/bad%2Fid`, agent)).status).toBe(400);

    const put = (body: string, token: string) =>
      fetch(`${stack.httpUrl}/workspaces/${workspace}/settings`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    expect((await put('{"idleTimeoutSeconds":120}', agent)).status).toBe(403);
    expect((await put('{"idleTimeoutSeconds":1}', admin)).status).toBe(400);
    expect((await put('{"idleTimeoutSeconds":', admin)).status).toBe(400);
    const changed = await put('{"idleTimeoutSeconds":120}', admin);
    expect(await changed.json()).toEqual({ idleTimeoutSeconds: 120, timezone: 'UTC', awayReasons: [], unavailableAfterSeconds: null });
    expect(await (await get(`/workspaces/${workspace}/settings`, agent)).json()).toEqual({ idleTimeoutSeconds: 120, timezone: 'UTC', awayReasons: [], unavailableAfterSeconds: null });
  });

  it('refuses a body over the limit without reading it all, and keeps serving', async () => {
    const workspace = uniqueWorkspace();
    const admin = await stack.token({ workspace, user: 'root', role: 'admin' });
    const response = await fetch(`${stack.httpUrl}/workspaces/${workspace}/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}` },
      body: 'x'.repeat(2 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    const settings = await fetch(`${stack.httpUrl}/workspaces/${workspace}/settings`, { headers: { authorization: `Bearer ${admin}` } });
    expect(await settings.json()).toEqual({ idleTimeoutSeconds: 30, timezone: 'UTC', awayReasons: [], unavailableAfterSeconds: null });
  });
});

describe('development sign-in', () => {
  it('tells the page where the WebSocket is and mints tokens that open it', async () => {
    const config = (await (await fetch(`${stack.httpUrl}/dev/config`)).json()) as { wsUrl: string; devTokens: boolean; heartbeatIntervalMs: number };
    expect(config).toEqual({ wsUrl: stack.wsUrl, devTokens: true, heartbeatIntervalMs: 2000 });
    const workspace = uniqueWorkspace();
    const minted = await fetch(`${stack.httpUrl}/dev/token`, {
      method: 'POST',
      body: JSON.stringify({ workspace, user: 'dana', name: 'Dana', teams: ['support'] }),
    });
    const { token } = (await minted.json()) as { token: string };
    const dana = await stack.connect({ rawToken: token });
    const snapshot = await dana.snapshot();
    expect(snapshot.users).toEqual([expect.objectContaining({ userId: 'dana', name: 'Dana', teams: ['support'], status: 'online' })]);
  });

  it('refuses bad sign-in requests with a clear error', async () => {
    const post = (body: string) => fetch(`${stack.httpUrl}/dev/token`, { method: 'POST', body });
    const badId = await post(JSON.stringify({ workspace: 'a b', user: 'x' }));
    expect(badId.status).toBe(400);
    expect(await badId.json()).toEqual({ error: { code: 'invalid_request', message: expect.stringMatching(/^workspace: /) } });
    expect((await post('not json')).status).toBe(400);
    expect((await post(JSON.stringify({ workspace: 'a', user: 'b', admin: true }))).status).toBe(400);
    expect((await fetch(`${stack.httpUrl}/dev/token`)).status).toBe(405);
  });

  it('is off with a secret of your own unless PRESENCE_DEV_SIGN_IN=1 asks for it', async () => {
    const own = await startTestStack({ env: { PRESENCE_DEV_SIGN_IN: '' } });
    try {
      expect(own.devSignIn).toBe(false);
      expect(await (await fetch(`${own.httpUrl}/dev/config`)).json()).toMatchObject({ devTokens: false });
      expect((await fetch(`${own.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ workspace: 'other', user: 'eve', role: 'admin' }) })).status).toBe(404);
    } finally {
      await own.stop();
    }
    expect(stack.devSignIn).toBe(true);
  });

  it('is not offered when tokens come from a JWKS', async () => {
    const jwks = await startTestStack({ env: { PRESENCE_JWKS_URL: 'http://127.0.0.1:9/jwks.json' } });
    try {
      expect(await (await fetch(`${jwks.httpUrl}/dev/config`)).json()).toMatchObject({ devTokens: false });
      expect((await fetch(`${jwks.httpUrl}/dev/token`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      await jwks.stop();
    }
  });
});

/** A raw request with a Host header of our choosing (fetch sets its own). */
function requestWithHost(url: string, host: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

/** The handshake's HTTP status: 101 when the upgrade is accepted. */
function handshake(url: string, headers: Record<string, string>, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, ...(origin ? { origin } : {}) });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    socket.once('error', reject);
  });
}

describe('loopback only', () => {
  it('answers 421 to a Host that is not a loopback name, on the HTTP API, the page and @connections', async () => {
    expect(await requestWithHost(`${stack.httpUrl}/healthz`, 'attacker.example')).toBe(421);
    expect(await requestWithHost(`${stack.httpUrl}/`, 'attacker.example:3000')).toBe(421);
    expect(await requestWithHost(`${stack.httpUrl}/dev/token`, 'rebound.attacker.example', 'POST')).toBe(421);
    expect(await requestWithHost(`${stack.managementUrl}/@connections/x`, 'attacker.example')).toBe(421);
    // Loopback names and addresses are served.
    for (const host of ['localhost', `localhost:${new URL(stack.httpUrl).port}`, '127.0.0.1', '127.1.2.3:80', '[::1]:3000']) {
      expect(await requestWithHost(`${stack.httpUrl}/healthz`, host)).toBe(200);
    }
  });

  it("the WebSocket handshake refuses another Host, and a browser Origin other than the page's", async () => {
    const token = await stack.token({ workspace: uniqueWorkspace(), user: 'dana' });
    const url = `${stack.wsUrl}?token=${token}`;
    const page = new URL(stack.httpUrl);

    expect(await handshake(url, { host: 'attacker.example' })).toBe(421);
    expect(await handshake(url, {}, 'http://attacker.example')).toBe(403);
    expect(await handshake(url, {}, `http://localhost:${page.port}`)).toBe(101);
    expect(await handshake(url, {}, stack.httpUrl)).toBe(101);
    // No Origin at all (an app or a Node client), as on AWS.
    expect(await handshake(url, {})).toBe(101);
  });
});
