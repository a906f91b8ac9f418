/** Every bad input of PROTOCOL.md gets its documented error and changes nothing in the table. */
import { describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { makeHarness, token, uniqueWorkspace } from '#test/support/harness.ts';
import { HandshakeRejected, httpEvent, makeService, TestConnection } from '#test/support/service.ts';

async function setup() {
  const harness = await makeHarness({ minIdleTimeoutSeconds: 60 });
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
  const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
  harness.gateway.clear();
  harness.events.events.length = 0;
  return { harness, service, workspace, alice, watcher };
}

describe('WebSocket messages', () => {
  const cases: [string, string, string][] = [
    ['not JSON', '{"action":"heartbeat"', 'invalid_json'],
    ['an empty frame', '', 'invalid_json'],
    ['JSON that is not an object', '[1,2,3]', 'unknown_action'],
    ['a JSON string', '"heartbeat"', 'unknown_action'],
    ['no action', '{"status":"online"}', 'unknown_action'],
    ['an unknown action', '{"action":"deleteEverything"}', 'unknown_action'],
    ['an action of the wrong type', '{"action":42}', 'unknown_action'],
    ['heartbeat with active as a string', '{"action":"heartbeat","active":"yes"}', 'invalid_message'],
    ['heartbeat with an extra field', '{"action":"heartbeat","active":true,"workspace":"other"}', 'invalid_message'],
    ['setStatus offline', '{"action":"setStatus","status":"offline"}', 'invalid_status'],
    ['setStatus busy', '{"action":"setStatus","status":"busy"}', 'invalid_status'],
    ['setStatus empty', '{"action":"setStatus","status":""}', 'invalid_status'],
    ['setStatus missing status', '{"action":"setStatus"}', 'invalid_status'],
    ['setStatus as a number', '{"action":"setStatus","status":1}', 'invalid_status'],
    ['setStatus in odd unicode', '{"action":"setStatus","status":"onlıne\\u202e"}', 'invalid_status'],
    ['setStatus with a huge string', JSON.stringify({ action: 'setStatus', status: 'x'.repeat(30_000) }), 'invalid_status'],
    ['setStatus with an extra field', '{"action":"setStatus","status":"away","userId":"bob"}', 'invalid_message'],
    ['getPresence with an extra field', '{"action":"getPresence","workspace":"other"}', 'invalid_message'],
    ['logout with an extra field', '{"action":"logout","everyone":true}', 'invalid_message'],
  ];

  it.each(cases)('%s gets %s and changes nothing', async (_label, frame, code) => {
    // Prepare
    const { harness, alice, watcher } = await setup();
    const before = await harness.scanTable();

    // Act
    await alice.send(frame);

    // Assess
    expect(alice.errors()).toEqual([{ type: 'error', code, message: expect.any(String) }]);
    expect(alice.errors()[0]?.message).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(alice.errors()[0]?.message.length).toBeLessThan(300); // never echoes a huge input
    expect(watcher.received()).toEqual([]);
    expect(harness.events.events).toEqual([]);
    expect(await harness.scanTable()).toEqual(before);
  });
});

/** Tokens the service must refuse, with the handshake's status. */
const secret = new TextEncoder().encode('integration-test-secret-0123456789abcdef');
const exp = () => Math.floor(Date.now() / 1000) + 600;
const tokens: [string, () => Promise<string>, number][] = [
  ['a missing token', async () => '', 401],
  ['garbage', async () => 'not-a-jwt', 401],
  ['an unsigned token (alg none)', async () => new UnsecuredJWT({ sub: 'eve', workspace: 'w' }).setExpirationTime(exp()).encode(), 401],
  ['a wrongly signed token', () => token({ workspace: 'w', sub: 'eve' }, 600, 'another-secret-another-secret-0000'), 401],
  ['an expired token', () => token({ workspace: 'w', sub: 'eve' }, -60), 401],
  ['a token without exp', () => new SignJWT({ sub: 'eve', workspace: 'w' }).setProtectedHeader({ alg: 'HS256' }).sign(secret), 401],
  ['a user id with a path character', () => token({ workspace: 'w', sub: '../eve' }), 401],
  ['a workspace id with a quote', () => token({ workspace: 'w"x', sub: 'eve' }), 401],
  ['an oversized name', () => token({ workspace: 'w', sub: 'eve', name: 'n'.repeat(129) }), 401],
  ['too many teams', () => token({ workspace: 'w', sub: 'eve', teams: Array.from({ length: 51 }, (_, i) => `t${i}`) }), 401],
  ['an unknown role', () => token({ workspace: 'w', sub: 'eve', role: 'root' }), 401],
  ['a service token', () => token({ workspace: 'w', sub: 'assigner', role: 'service' }), 403],
];

describe('WebSocket handshake', () => {
  it.each(tokens)('%s is refused with %i and stores nothing', async (_label, mint, status) => {
    const harness = await makeHarness();
    const service = makeService(harness);

    const attempt = TestConnection.open(service, { rawToken: await mint() });

    await expect(attempt).rejects.toEqual(new HandshakeRejected(status));
    expect(await harness.scanTable()).toEqual([]);
  });
});

describe('HTTP API refusals', () => {
  it('every refused token gets the same 401 body, whichever check failed; the reason is logged', async () => {
    // Prepare: each 401 case of the handshake, on an HTTP route.
    const { harness } = await setup();
    const logged: unknown[] = [];
    harness.ports.logger = { ...harness.ports.logger, info: (message: string, ...extra: unknown[]) => logged.push([message, ...extra]) };
    const refused = tokens.filter(([, , status]) => status === 401);

    // Act
    const bodies = new Set<string>();
    for (const [, mint] of refused) {
      const reply = await makeService(harness).http(httpEvent('GET', '/workspaces/w/settings', { token: (await mint()) || undefined }));
      expect(reply.statusCode).toBe(401);
      bodies.add(reply.body ?? '');
    }

    // Assess
    expect([...bodies]).toEqual([JSON.stringify({ error: { code: 'unauthorized', message: 'the token is missing, invalid or expired' } })]);
    expect(logged).toContainEqual(['token refused', { reason: 'the token has expired' }]);
    expect(logged).toContainEqual(['token refused', { reason: 'the token claims are invalid' }]);
  });
});

describe('HTTP API', () => {
  it('answers healthz without a token', async () => {
    const { service } = await setup();
    const reply = await service.http(httpEvent('GET', '/healthz'));
    expect(reply).toMatchObject({ statusCode: 200 });
    expect(JSON.parse(reply.body ?? '')).toEqual({ ok: true });
  });

  it('serves agents, one agent and settings to any role of the workspace', async () => {
    const { service, workspace } = await setup();
    const jwt = await token({ workspace, sub: 'assigner', role: 'service' });

    const agents = await service.http(httpEvent('GET', `/workspaces/${workspace}/agents`, { token: jwt, query: { status: 'online' } }));
    const one = await service.http(httpEvent('GET', `/workspaces/${workspace}/agents/alice`, { token: jwt }));
    const settings = await service.http(httpEvent('GET', `/workspaces/${workspace}/settings`, { token: jwt }));

    expect(agents.statusCode).toBe(200);
    expect(JSON.parse(agents.body ?? '').agents.map((a: { userId: string }) => a.userId)).toEqual(['alice', 'watcher']);
    expect(JSON.parse(one.body ?? '')).toMatchObject({ userId: 'alice', status: 'online', teams: [] });
    expect(JSON.parse(settings.body ?? '')).toEqual({ idleTimeoutSeconds: 600, timezone: 'UTC', awayReasons: [], unavailableAfterSeconds: null });
  });

  it('lets an admin change the idle timeout, which moves deadlines at once', async () => {
    const { service, workspace, harness, watcher } = await setup();
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });

    const reply = await service.http(
      httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: '{"idleTimeoutSeconds":60}' }),
    );
    harness.clock.advance(61_000);
    await service.sweep();

    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body ?? '')).toEqual({ idleTimeoutSeconds: 60, timezone: 'UTC', awayReasons: [], unavailableAfterSeconds: null });
    // One sweep publishes both; their order across deadline shards is not defined.
    expect(watcher.presence().map((m) => [m.userId, m.reason]).sort()).toEqual([
      ['alice', 'idle'],
      ['watcher', 'idle'],
    ]);
  });

  it('a settings change already past for present agents takes them idle immediately', async () => {
    const { service, workspace, harness, watcher } = await setup();
    harness.clock.advance(80_000);
    await watcher.heartbeat(true);
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });

    await service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: '{"idleTimeoutSeconds":60}' }));

    expect(watcher.presence().map((m) => [m.userId, m.reason])).toEqual([['alice', 'idle']]);
  });

  type Case = [label: string, status: number, code: string, build: (ws: string) => Promise<Parameters<typeof httpEvent>>];
  const cases: Case[] = [
    ['no token', 401, 'unauthorized', async (ws) => ['GET', `/workspaces/${ws}/settings`, {}]],
    ['a malformed Authorization header', 401, 'unauthorized', async (ws) => ['GET', `/workspaces/${ws}/settings`, { headers: { authorization: 'Basic abc' } }]],
    ['an expired token', 401, 'unauthorized', async (ws) => ['GET', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a' }, -5) }]],
    ['a token of another workspace', 403, 'forbidden', async (ws) => ['GET', `/workspaces/${ws}/agents`, { token: await token({ workspace: 'other', sub: 'a' }), query: { status: 'online' } }]],
    ['an agent changing settings', 403, 'forbidden', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a' }), body: '{"idleTimeoutSeconds":120}' }]],
    ['a service token changing settings', 403, 'forbidden', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'service' }), body: '{"idleTimeoutSeconds":120}' }]],
    ['an unknown agent', 404, 'not_found', async (ws) => ['GET', `/workspaces/${ws}/agents/nobody`, { token: await token({ workspace: ws, sub: 'a' }) }]],
    ['an unknown route', 404, 'not_found', async (ws) => ['GET', `/workspaces/${ws}/secrets`, { token: await token({ workspace: ws, sub: 'a' }) }]],
    ['a missing status', 400, 'invalid_request', async (ws) => ['GET', `/workspaces/${ws}/agents`, { token: await token({ workspace: ws, sub: 'a' }) }]],
    ['status busy', 400, 'invalid_request', async (ws) => ['GET', `/workspaces/${ws}/agents`, { token: await token({ workspace: ws, sub: 'a' }), query: { status: 'busy' } }]],
    ['a team with a quote', 400, 'invalid_request', async (ws) => ['GET', `/workspaces/${ws}/agents`, { token: await token({ workspace: ws, sub: 'a' }), query: { status: 'online', team: 'a"b' } }]],
    ['an extra query parameter', 400, 'invalid_request', async (ws) => ['GET', `/workspaces/${ws}/agents`, { token: await token({ workspace: ws, sub: 'a' }), query: { status: 'online', limit: '5' } }]],
    ['a user id with a path character', 400, 'invalid_request', async (ws) => ['GET', `/workspaces/${ws}/agents/a%2Fb`, { token: await token({ workspace: ws, sub: 'a' }) }]],
    ['settings not JSON', 400, 'invalid_json', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'admin' }), body: '{idle' }]],
    ['settings below the minimum', 400, 'invalid_message', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'admin' }), body: '{"idleTimeoutSeconds":59}' }]],
    ['settings above the maximum', 400, 'invalid_message', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'admin' }), body: '{"idleTimeoutSeconds":86401}' }]],
    ['settings as a string', 400, 'invalid_message', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'admin' }), body: '{"idleTimeoutSeconds":"600"}' }]],
    ['settings with an extra field', 400, 'invalid_message', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'admin' }), body: '{"idleTimeoutSeconds":600,"workspace":"x"}' }]],
    ['a large body', 413, 'payload_too_large', async (ws) => ['PUT', `/workspaces/${ws}/settings`, { token: await token({ workspace: ws, sub: 'a', role: 'admin' }), body: JSON.stringify({ idleTimeoutSeconds: 600, pad: 'x'.repeat(100_000) }) }]],
  ];

  it.each(cases)('%s: %i %s, table unchanged', async (_label, status, code, build) => {
    const { service, workspace, harness } = await setup();
    const before = await harness.scanTable();

    const reply = await service.http(httpEvent(...(await build(workspace))));

    expect(reply.statusCode).toBe(status);
    expect(JSON.parse(reply.body ?? '')).toEqual({ error: { code, message: expect.any(String) } });
    expect(reply.body).not.toMatch(/\.ts:\d+/);
    expect(await harness.scanTable()).toEqual(before);
  });
});

describe('online-agents function', () => {
  it.each([
    ['a missing workspace', {}],
    ['a workspace with a path character', { workspaceId: '../x' }],
    ['status busy', { workspaceId: 'w', status: 'busy' }],
    ['an extra field', { workspaceId: 'w', status: 'online', limit: 1 }],
    ['not an object', 'online'],
  ])('%s gets a typed error, not a thrown one', async (_label, event) => {
    const { service } = await setup();
    expect(await service.onlineAgents(event)).toEqual({ error: { code: 'invalid_request', message: expect.any(String) } });
  });
});
