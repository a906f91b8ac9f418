/**
 * Status history on DynamoDB Local: every committed transition recorded once by the consumer
 * (a retried stream batch records nothing twice), kept with a TTL of the retention, read back as
 * a user's timeline with paging and the access rules; and the workspace time zone setting.
 */
import { describe, expect, it } from 'vitest';
import { makeStreamHandler } from '#handlers/stream.ts';
import { makeHarness, token, uniqueWorkspace } from '#test/support/harness.ts';
import { agentWriteEvent } from '#test/support/lambda.ts';
import { httpEvent, makeService, TestConnection } from '#test/support/service.ts';

const DAY_MS = 86_400_000;

async function setup() {
  const harness = await makeHarness();
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  return { harness, service, workspace };
}

async function timeline(service: ReturnType<typeof makeService>, workspace: string, user: string, jwt: string, query: Record<string, string> = {}) {
  const reply = await service.http(httpEvent('GET', `/workspaces/${workspace}/agents/${user}/history`, { token: jwt, query }));
  return { status: reply.statusCode, body: JSON.parse(reply.body ?? '') };
}

describe('history', () => {
  it('records every committed transition once, with who caused it, and keeps it for the retention', async () => {
    const { harness, service, workspace } = await setup();
    const start = harness.clock.now();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    harness.clock.advance(1000);
    await alice.setStatus('away');
    harness.clock.advance(1000);
    await alice.close();
    // Past the grace: the sweeper decides the disconnect, and past the lease nothing else.
    harness.clock.advance(harness.ports.config.graceMs + 1);
    await service.sweep();

    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    const { status, body } = await timeline(service, workspace, 'alice', admin);
    expect(status).toBe(200);
    expect(body.transitions).toEqual([
      { status: 'online', previous: 'offline', reason: 'connect', at: start, by: 'alice' },
      { status: 'away', previous: 'online', reason: 'manual', at: start + 1000, by: 'alice' },
      { status: 'offline', previous: 'away', reason: 'disconnect', at: start + 2000 + harness.ports.config.graceMs, by: 'alice' },
    ]);
    expect(body.next).toBeUndefined();

    const items = (await harness.scanTable()).filter((item) => String(item.sk).startsWith('HIST#alice#'));
    expect(items).toHaveLength(3);
    for (const item of items) expect(item.ttl).toBe(Math.ceil(((item.at as number) + 400 * DAY_MS) / 1000));
  });

  it('records a timeout as the service\'s doing (by null)', async () => {
    const { harness, service, workspace } = await setup();
    await TestConnection.open(service, { workspace, sub: 'alice' });
    // No heartbeat: the lease ends and the sweeper commits the timeout at its deadline.
    harness.clock.advance(harness.ports.config.leaseMs + 1);
    await service.sweep();
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    const { body } = await timeline(service, workspace, 'alice', admin);
    expect(body.transitions.map((t: { reason: string; by: unknown }) => [t.reason, t.by])).toEqual([
      ['connect', 'alice'],
      ['timeout', null],
    ]);
  });

  it('records nothing twice when the stream hands a batch over again', async () => {
    const { harness, workspace } = await setup();
    const handler = makeStreamHandler({ ports: harness.ports });
    const event = agentWriteEvent(workspace, { userId: 'carol', name: 'Carol' }, [
      { status: 'online', previous: 'offline', reason: 'connect', at: 1_000, version: 1 },
      { status: 'away', previous: 'online', reason: 'manual', at: 2_000, version: 2 },
    ]);
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(await handler(event)).toEqual({ batchItemFailures: [] });

    const items = (await harness.scanTable()).filter((item) => String(item.sk).startsWith('HIST#carol#'));
    expect(items.map((item) => [item.version, item.status])).toEqual([
      [1, 'online'],
      [2, 'away'],
    ]);
  });

  it('asks for the whole batch again when the history cannot be written, and records it then', async () => {
    const { harness, workspace } = await setup();
    const handler = makeStreamHandler({ ports: harness.ports });
    const event = agentWriteEvent(workspace, { userId: 'dan', name: 'Dan' }, [{ status: 'online', previous: 'offline', reason: 'connect', at: 5_000, version: 1 }], '7');
    const record = harness.store.recordHistory.bind(harness.store);
    harness.store.recordHistory = async () => {
      throw new Error('throttled');
    };
    expect(await handler(event)).toEqual({ batchItemFailures: [{ itemIdentifier: '7' }] });
    harness.store.recordHistory = record;
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect((await harness.scanTable()).filter((item) => String(item.sk).startsWith('HIST#dan#'))).toHaveLength(1);
  });
});

describe('timeline', () => {
  async function seeded(count: number) {
    const { harness, service, workspace } = await setup();
    const entries = Array.from({ length: count }, (_, i) => ({
      userId: 'alice',
      status: i % 2 === 0 ? ('online' as const) : ('away' as const),
      previous: i % 2 === 0 ? ('away' as const) : ('online' as const),
      reason: 'manual' as const,
      at: 10_000 + i * 1000,
      version: i + 1,
      by: 'alice',
    }));
    await harness.store.recordHistory(workspace, entries, (entry) => entry.at + DAY_MS);
    return { harness, service, workspace };
  }

  it('pages 1,000 transitions at a time, oldest first, within [from, to)', async () => {
    const { service, workspace } = await seeded(1005);
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    const first = await timeline(service, workspace, 'alice', admin, { from: '0', to: String(10_000_000) });
    expect(first.status).toBe(200);
    expect(first.body.transitions).toHaveLength(1000);
    expect(first.body.transitions[0].at).toBe(10_000);
    expect(typeof first.body.next).toBe('string');
    const second = await timeline(service, workspace, 'alice', admin, { from: '0', to: String(10_000_000), next: first.body.next });
    expect(second.body.transitions.map((t: { at: number }) => t.at)).toEqual([1_010_000, 1_011_000, 1_012_000, 1_013_000, 1_014_000]);
    expect(second.body.next).toBeUndefined();

    const window = await timeline(service, workspace, 'alice', admin, { from: '12000', to: '14000' });
    expect(window.body.transitions.map((t: { at: number }) => t.at)).toEqual([12_000, 13_000]);
  });

  it('lets admins and services read anyone, an agent only themself; another workspace is 403', async () => {
    const { service, workspace } = await seeded(2);
    const as = async (claims: { sub: string; role?: string; workspace?: string }, user: string) =>
      (await timeline(service, workspace, user, await token({ workspace: claims.workspace ?? workspace, sub: claims.sub, ...(claims.role ? { role: claims.role } : {}) }))).status;
    expect(await as({ sub: 'boss', role: 'admin' }, 'alice')).toBe(200);
    expect(await as({ sub: 'assigner', role: 'service' }, 'alice')).toBe(200);
    expect(await as({ sub: 'alice' }, 'alice')).toBe(200);
    expect(await as({ sub: 'bob' }, 'alice')).toBe(403);
    expect(await as({ sub: 'boss', role: 'admin', workspace: 'elsewhere' }, 'alice')).toBe(403);
  });

  it.each<[string, Record<string, string>]>([
    ['from that is not epoch milliseconds', { from: 'yesterday' }],
    ['from after to', { from: '5000', to: '4000' }],
    ['an unknown parameter', { since: '0' }],
    ['a cursor this route never gave', { next: 'bm90LWEta2V5' }],
  ])('answers %s with invalid_request (400)', async (_name, query) => {
    const { service, workspace } = await seeded(1);
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    const { status, body } = await timeline(service, workspace, 'alice', admin, query);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
  });
});

describe('workspace time zone', () => {
  it('defaults to UTC, takes an IANA name (canonically spelled), refuses an unknown one and changes nothing', async () => {
    const { harness, service, workspace } = await setup();
    const admin = await token({ workspace, sub: 'boss', role: 'admin' });
    const put = async (body: unknown) => service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: JSON.stringify(body) }));
    const get = async () => JSON.parse((await service.http(httpEvent('GET', `/workspaces/${workspace}/settings`, { token: admin }))).body ?? '');

    expect(await get()).toEqual({ idleTimeoutSeconds: 600, timezone: 'UTC', awayReasons: [], unavailableAfterSeconds: null });
    const madrid = await put({ timezone: 'europe/madrid' });
    expect(madrid.statusCode).toBe(200);
    expect(JSON.parse(madrid.body ?? '')).toEqual({ idleTimeoutSeconds: 600, timezone: 'Europe/Madrid', awayReasons: [], unavailableAfterSeconds: null });
    const before = await harness.scanTable();

    for (const bad of [{ timezone: 'Mars/Olympus_Mons' }, { timezone: '' }, { timezone: 42 }, {}]) {
      const reply = await put(bad);
      expect(reply.statusCode, JSON.stringify(bad)).toBe(400);
      expect(JSON.parse(reply.body ?? '').error.code).toBe('invalid_message');
    }
    expect(await harness.scanTable()).toEqual(before);
    expect(await get()).toEqual({ idleTimeoutSeconds: 600, timezone: 'Europe/Madrid', awayReasons: [], unavailableAfterSeconds: null });

    // Changing the idle timeout alone keeps the zone.
    await put({ idleTimeoutSeconds: 900 });
    expect(await get()).toEqual({ idleTimeoutSeconds: 900, timezone: 'Europe/Madrid', awayReasons: [], unavailableAfterSeconds: null });
  });
});
