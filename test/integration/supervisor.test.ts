/**
 * Supervisor controls and away reasons through the real handlers on DynamoDB Local: an admin sets
 * a teammate's status or signs them out (attributed, pushed, recorded), away reasons in settings
 * and in setStatus, every access rule and bad input changing nothing, and an admin's change racing
 * the agent's own.
 */
import { describe, expect, it } from 'vitest';
import { makeHarness, token, uniqueWorkspace } from '#test/support/harness.ts';
import { httpEvent, makeService, type Service, TestConnection } from '#test/support/service.ts';

const REASONS = [
  { id: 'lunch', label: 'Lunch', emoji: '🍔' },
  { id: 'meeting', label: 'In a meeting' },
];

async function setup(reasons = REASONS) {
  const harness = await makeHarness();
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  const admin = await token({ workspace, sub: 'dana', role: 'admin' });
  if (reasons.length > 0) {
    const reply = await service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: JSON.stringify({ awayReasons: reasons }) }));
    expect(reply.statusCode).toBe(200);
  }
  return { harness, service, workspace, admin };
}

async function call(service: Service, method: string, path: string, jwt: string | undefined, body?: unknown) {
  const reply = await service.http(
    httpEvent(method, path, { ...(jwt ? { token: jwt } : {}), ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) }),
  );
  return { status: reply.statusCode ?? 0, body: JSON.parse(reply.body ?? 'null') };
}

async function history(service: Service, workspace: string, userId: string, admin: string) {
  return (await call(service, 'GET', `/workspaces/${workspace}/agents/${userId}/history`, admin)).body.transitions;
}

describe('an admin sets a teammate\'s status', () => {
  it('pushes it to teammates and to the agent with reason admin and by, records it, and replies with the presence', async () => {
    const { harness, service, workspace, admin } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.gateway.clear();
    harness.events.events.length = 0;
    harness.clock.advance(1000);
    const at = harness.clock.now();

    const reply = await call(service, 'PUT', `/workspaces/${workspace}/agents/alice/status`, admin, { status: 'away', awayReason: 'lunch' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ userId: 'alice', status: 'away', since: at, awayReason: 'lunch', by: 'dana' });

    const change = { userId: 'alice', status: 'away', previous: 'online', reason: 'admin', at, awayReason: 'lunch', by: 'dana' };
    expect(alice.presence()).toEqual([expect.objectContaining(change)]);
    expect(bob.presence()).toEqual([expect.objectContaining(change)]);
    expect(harness.events.events).toEqual([{ workspaceId: workspace, ...change }]);
    expect((await history(service, workspace, 'alice', admin)).at(-1)).toEqual({ status: 'away', previous: 'online', reason: 'admin', at, by: 'dana', awayReason: 'lunch' });

    // Teammates who load later see who set it: the snapshot and the HTTP view carry it.
    await bob.getPresence();
    expect(bob.snapshots().at(-1)?.users.find((user) => user.userId === 'alice')).toMatchObject({ status: 'away', awayReason: 'lunch', by: 'dana' });
    expect((await call(service, 'GET', `/workspaces/${workspace}/agents/alice`, admin)).body).toMatchObject({ awayReason: 'lunch', by: 'dana' });

    // The agent's own next choice is theirs again: no `by`.
    harness.clock.advance(1000);
    await alice.setStatus('online');
    expect(alice.presence().at(-1)).toMatchObject({ status: 'online', reason: 'manual' });
    expect(alice.presence().at(-1)).not.toHaveProperty('by');
    expect(alice.presence().at(-1)).not.toHaveProperty('awayReason');
  });

  it('only stores the choice of an offline agent: nothing is published, and it comes back when they do', async () => {
    const { harness, service, workspace, admin } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await alice.close();
    harness.clock.advance(harness.ports.config.graceMs + 1);
    await service.sweep();
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.gateway.clear();
    harness.events.events.length = 0;

    const reply = await call(service, 'PUT', `/workspaces/${workspace}/agents/alice/status`, admin, { status: 'away', awayReason: 'meeting' });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ userId: 'alice', status: 'offline' });
    expect(harness.gateway.posts).toEqual([]);
    expect(harness.events.events).toEqual([]);

    harness.clock.advance(1000);
    await TestConnection.open(service, { workspace, sub: 'alice' });
    expect(bob.presence()).toEqual([expect.objectContaining({ userId: 'alice', status: 'away', previous: 'offline', reason: 'connect', awayReason: 'meeting' })]);
    expect(bob.presence()[0]).not.toHaveProperty('by');
  });

  it('refuses agents, services, other workspaces, unknown users and bad bodies, and changes nothing', async () => {
    const { harness, service, workspace, admin } = await setup();
    await TestConnection.open(service, { workspace, sub: 'alice' });
    const path = `/workspaces/${workspace}/agents/alice/status`;
    const before = await harness.scanTable();
    const cases: Array<[string, string | undefined, string, unknown, number, string]> = [
      ['no token', undefined, path, { status: 'away' }, 401, 'unauthorized'],
      ['an agent, even for themself', await token({ workspace, sub: 'alice' }), path, { status: 'away' }, 403, 'forbidden'],
      ['a service', await token({ workspace, sub: 'router', role: 'service' }), path, { status: 'away' }, 403, 'forbidden'],
      ['an admin of another workspace', await token({ workspace: uniqueWorkspace(), sub: 'dana', role: 'admin' }), path, { status: 'away' }, 403, 'forbidden'],
      ['an unknown user', admin, `/workspaces/${workspace}/agents/nobody/status`, { status: 'away' }, 404, 'not_found'],
      ['status offline', admin, path, { status: 'offline' }, 400, 'invalid_status'],
      ['status busy', admin, path, { status: 'busy' }, 400, 'invalid_status'],
      ['no status', admin, path, {}, 400, 'invalid_status'],
      ['an unknown reason', admin, path, { status: 'away', awayReason: 'nap' }, 400, 'invalid_message'],
      ['a reason with online', admin, path, { status: 'online', awayReason: 'lunch' }, 400, 'invalid_message'],
      ['a reason that is not an id', admin, path, { status: 'away', awayReason: 'a b' }, 400, 'invalid_message'],
      ['an extra field', admin, path, { status: 'away', by: 'someone' }, 400, 'invalid_message'],
      ['a body that is not JSON', admin, path, '{status', 400, 'invalid_json'],
    ];
    for (const [name, jwt, target, body, status, code] of cases) {
      const reply = await call(service, 'PUT', target, jwt, body);
      expect({ name, status: reply.status, code: reply.body?.error?.code }).toEqual({ name, status, code });
    }
    expect((await call(service, 'GET', path, admin)).status).toBe(405);
    expect((await call(service, 'GET', `/workspaces/${workspace}/agents/alice/logout`, admin)).status).toBe(405);
    expect((await call(service, 'POST', `/workspaces/${workspace}/agents/alice/logout`, await token({ workspace, sub: 'alice' }))).status).toBe(403);
    expect((await call(service, 'POST', `/workspaces/${workspace}/agents/nobody/logout`, admin)).status).toBe(404);
    expect(await harness.scanTable()).toEqual(before);
  });

  it('races the agent\'s own setStatus: one wins, both clients converge, history has both in order', async () => {
    const { harness, service, workspace, admin } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.clock.advance(1000);
    const [reply] = await Promise.all([
      call(service, 'PUT', `/workspaces/${workspace}/agents/alice/status`, admin, { status: 'away', awayReason: 'lunch' }),
      alice.setStatus('away'),
    ]);
    expect(reply.status).toBe(200);
    const entries = (await history(service, workspace, 'alice', admin)).slice(1);
    // Both committed, in some order: whichever came second changed the away reason (lunch or none).
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ status: 'away', previous: 'online' });
    expect(entries[1]).toMatchObject({ status: 'away', previous: 'away' });
    expect(entries.map((entry: { reason: string }) => entry.reason).sort()).toEqual(['admin', 'manual']);
    const final = (await call(service, 'GET', `/workspaces/${workspace}/agents/alice`, admin)).body;
    const last = entries.at(-1);
    expect(final.status).toBe(last.status);
    expect(final.awayReason).toBe(last.awayReason);
    // Every client's last change of alice is the final state.
    for (const connection of [alice, bob]) {
      const seen = connection.presence().filter((change) => change.userId === 'alice').at(-1);
      expect({ status: seen?.status, awayReason: seen?.awayReason }).toEqual({ status: final.status, awayReason: final.awayReason });
    }
    // The two versions are in order: a later entry never has a smaller instant.
    for (let i = 1; i < entries.length; i++) expect(entries[i].at).toBeGreaterThanOrEqual(entries[i - 1].at);
  });

  it('an admin reason change then the agent\'s own: history has both, in order, each attributed', async () => {
    const { harness, service, workspace, admin } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    harness.clock.advance(1000);
    await call(service, 'PUT', `/workspaces/${workspace}/agents/alice/status`, admin, { status: 'away', awayReason: 'lunch' });
    harness.clock.advance(1000);
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'meeting' });
    const entries = await history(service, workspace, 'alice', admin);
    expect(entries.slice(1).map(({ status, previous, reason, by, awayReason }: Record<string, unknown>) => ({ status, previous, reason, by, awayReason }))).toEqual([
      { status: 'away', previous: 'online', reason: 'admin', by: 'dana', awayReason: 'lunch' },
      { status: 'away', previous: 'away', reason: 'manual', by: 'alice', awayReason: 'meeting' },
    ]);
  });
});

describe('an admin signs an agent out everywhere', () => {
  it('is the agent\'s own logout, attributed: loggedOut with by on every connection, closed, offline with reason logout, the choice kept', async () => {
    const { harness, service, workspace, admin } = await setup();
    const phone = await TestConnection.open(service, { workspace, sub: 'alice' });
    const laptop = await TestConnection.open(service, { workspace, sub: 'alice' });
    await laptop.setStatus('away');
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.gateway.clear();
    harness.events.events.length = 0;
    harness.clock.advance(1000);
    const at = harness.clock.now();

    const reply = await call(service, 'POST', `/workspaces/${workspace}/agents/alice/logout`, admin);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ userId: 'alice', status: 'offline', since: at, by: 'dana' });
    for (const connection of [phone, laptop]) {
      expect(connection.received().filter((message) => message.type === 'loggedOut')).toEqual([{ type: 'loggedOut', at, by: 'dana' }]);
      expect(harness.gateway.deleted).toContain(connection.id);
    }
    expect(bob.presence()).toEqual([expect.objectContaining({ userId: 'alice', status: 'offline', previous: 'away', reason: 'logout', at, by: 'dana' })]);
    expect(harness.events.events).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'offline', previous: 'away', reason: 'logout', at, by: 'dana' }]);
    expect((await history(service, workspace, 'alice', admin)).at(-1)).toEqual({ status: 'offline', previous: 'away', reason: 'logout', at, by: 'dana' });
    expect((await harness.ports.store.listUserConnections(workspace, 'alice'))).toEqual([]);

    // The chosen status comes back at the next login.
    harness.clock.advance(1000);
    await TestConnection.open(service, { workspace, sub: 'alice' });
    expect(bob.presence().at(-1)).toMatchObject({ userId: 'alice', status: 'away', reason: 'connect' });
  });
});

describe('away reasons', () => {
  it('setStatus takes a reason with away; changing only the reason is a change; snapshots and views carry it', async () => {
    const { harness, service, workspace, admin } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.gateway.clear();
    harness.clock.advance(1000);
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
    harness.clock.advance(1000);
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'meeting' });
    harness.clock.advance(1000);
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'meeting' });
    harness.clock.advance(1000);
    await alice.send({ action: 'setStatus', status: 'away' });
    expect(bob.presence().map(({ status, previous, reason, awayReason }) => ({ status, previous, reason, awayReason }))).toEqual([
      { status: 'away', previous: 'online', reason: 'manual', awayReason: 'lunch' },
      { status: 'away', previous: 'away', reason: 'manual', awayReason: 'meeting' },
      { status: 'away', previous: 'away', reason: 'manual', awayReason: undefined },
    ]);
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
    await bob.getPresence();
    expect(bob.snapshots().at(-1)?.users.find((user) => user.userId === 'alice')).toMatchObject({ status: 'away', awayReason: 'lunch' });
    const away = await call(service, 'GET', `/workspaces/${workspace}/agents`, admin);
    expect(away.status).toBe(400);
    const listed = await service.http(httpEvent('GET', `/workspaces/${workspace}/agents`, { token: admin, query: { status: 'away' } }));
    expect(JSON.parse(listed.body ?? '').agents).toEqual([expect.objectContaining({ userId: 'alice', awayReason: 'lunch' })]);
  });

  it('refuses an unknown reason and a reason with online (invalid_message), changing nothing', async () => {
    const { harness, service, workspace } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await alice.setStatus('away');
    const before = await harness.scanTable();
    harness.gateway.clear();
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'nap' });
    await alice.send({ action: 'setStatus', status: 'online', awayReason: 'lunch' });
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 42 });
    expect(alice.errors().map((error) => error.code)).toEqual(['invalid_message', 'invalid_message', 'invalid_message']);
    expect(alice.presence()).toEqual([]);
    expect(await harness.scanTable()).toEqual(before);
  });

  it('settings keep at most 20 valid reasons; a bad list is invalid_message and changes nothing', async () => {
    const { harness, service, workspace, admin } = await setup();
    const path = `/workspaces/${workspace}/settings`;
    const before = await harness.scanTable();
    const many = Array.from({ length: 21 }, (_, i) => ({ id: `r${i}`, label: `Reason ${i}` }));
    for (const awayReasons of [
      many,
      [{ id: 'a', label: 'A' }, { id: 'a', label: 'B' }],
      [{ id: 'a', label: '' }],
      [{ id: 'a', label: '   ' }],
      [{ id: 'a', label: 'x'.repeat(41) }],
      [{ id: 'a b', label: 'A' }],
      [{ id: 'a', label: 'A', emoji: '🍔🍟' }],
      [{ id: 'a', label: 'A', color: 'red' }],
      'lunch',
    ]) {
      const reply = await call(service, 'PUT', path, admin, { awayReasons });
      expect({ awayReasons, status: reply.status, code: reply.body?.error?.code }).toEqual({ awayReasons, status: 400, code: 'invalid_message' });
    }
    const big = await call(service, 'PUT', path, admin, JSON.stringify({ awayReasons: [{ id: 'a', label: 'x'.repeat(20_000) }] }));
    expect(big.status).toBe(413);
    expect(await harness.scanTable()).toEqual(before);

    const twenty = Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, label: `Reason ${i}`, emoji: '👨‍👩‍👧' }));
    const saved = await call(service, 'PUT', path, admin, { awayReasons: twenty });
    expect(saved.status).toBe(200);
    expect(saved.body.awayReasons).toEqual(twenty);
    expect((await call(service, 'GET', path, await token({ workspace, sub: 'alice' }))).body.awayReasons).toEqual(twenty);
  });

  it('removing a reason leaves agents away with no reason: published by the admin for those present, dropped for those offline', async () => {
    const { harness, service, workspace, admin } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await alice.send({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
    const carol = await TestConnection.open(service, { workspace, sub: 'carol' });
    await carol.send({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
    await carol.close();
    const erin = await TestConnection.open(service, { workspace, sub: 'erin' });
    await erin.send({ action: 'setStatus', status: 'away', awayReason: 'meeting' });
    harness.clock.advance(harness.ports.config.graceMs + 1);
    await service.sweep();
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.gateway.clear();
    const at = harness.clock.now();

    const reply = await call(service, 'PUT', `/workspaces/${workspace}/settings`, admin, { awayReasons: [REASONS[1]] });
    expect(reply.status).toBe(200);
    expect(bob.presence()).toEqual([expect.objectContaining({ userId: 'alice', status: 'away', previous: 'away', reason: 'admin', at, by: 'dana' })]);
    expect(bob.presence()[0]).not.toHaveProperty('awayReason');

    harness.clock.advance(1000);
    await TestConnection.open(service, { workspace, sub: 'carol' });
    expect(bob.presence().at(-1)).toMatchObject({ userId: 'carol', status: 'away', reason: 'connect' });
    expect(bob.presence().at(-1)).not.toHaveProperty('awayReason');
    // A reason still offered stays.
    expect((await call(service, 'GET', `/workspaces/${workspace}/agents/erin`, admin)).body).toMatchObject({ status: 'away', awayReason: 'meeting' });
  });
});
