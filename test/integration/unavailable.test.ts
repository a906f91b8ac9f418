/**
 * The reassignment hook on DynamoDB Local: with `unavailableAfterSeconds` set, an agent away or
 * offline that long since leaving online gets exactly one AgentUnavailable, committed by the
 * sweeper at the deadline (the deadline index) and published by the stream's consumer; coming
 * back online first cancels it; a sweeper restart neither loses nor repeats it.
 */
import { describe, expect, it } from 'vitest';
import { makeHarness, token, uniqueWorkspace } from '#test/support/harness.ts';
import { httpEvent, makeService, type Service, TestConnection } from '#test/support/service.ts';
import { startReader, streamHarness } from '#test/support/stream.ts';

const AFTER_S = 30;
const AFTER_MS = AFTER_S * 1000;

async function putSettings(service: Service, workspace: string, body: unknown) {
  const admin = await token({ workspace, sub: 'dana', role: 'admin' });
  const reply = await service.http(httpEvent('PUT', `/workspaces/${workspace}/settings`, { token: admin, body: JSON.stringify(body) }));
  return { status: reply.statusCode, body: JSON.parse(reply.body ?? 'null') };
}

async function setup(after: number | null = AFTER_S) {
  const harness = await makeHarness();
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  if (after !== null) expect((await putSettings(service, workspace, { unavailableAfterSeconds: after })).status).toBe(200);
  return { harness, service, workspace };
}

describe('AgentUnavailable', () => {
  it('fires once, at the deadline, for an agent away that long; never again in the same period', async () => {
    const { harness, service, workspace } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    harness.clock.advance(1000);
    const left = harness.clock.now();
    await alice.setStatus('away');

    harness.clock.current = left + AFTER_MS - 1;
    await alice.heartbeat(true);
    await service.sweep();
    expect(harness.events.unavailable).toEqual([]);

    harness.clock.current = left + AFTER_MS;
    await service.sweep();
    expect(harness.events.unavailable).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'away', since: left, at: left + AFTER_MS }]);

    // Away to offline within the period is the same period.
    await alice.close();
    harness.clock.advance(harness.ports.config.graceMs + AFTER_MS);
    await service.sweep();
    await service.sweep();
    expect(harness.events.unavailable).toHaveLength(1);
    // Nothing of alice is due any more: the sweeper reads nothing for her.
    const due = (await harness.scanTable()).filter((item) => item.sk === 'AGENT#alice' && item.dueAt !== undefined);
    expect(due).toEqual([]);
  });

  it('is cancelled by coming back online before the deadline, and a new period counts afresh', async () => {
    const { harness, service, workspace } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await alice.setStatus('away');
    harness.clock.advance(AFTER_MS - 1000);
    await alice.setStatus('online');
    harness.clock.advance(AFTER_MS * 3);
    await alice.heartbeat(true);
    await service.sweep();
    expect(harness.events.unavailable).toEqual([]);

    const left = harness.clock.now();
    await alice.setStatus('away');
    harness.clock.advance(AFTER_MS);
    await service.sweep();
    expect(harness.events.unavailable).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'away', since: left, at: left + AFTER_MS }]);
  });

  it('counts from the instant the agent went offline, and reports the status at the deadline', async () => {
    const { harness, service, workspace } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    harness.clock.advance(1000);
    await alice.close();
    const offlineAt = harness.clock.now() + harness.ports.config.graceMs;
    harness.clock.current = offlineAt + AFTER_MS;
    // One pass commits the disconnect at the grace's end; the deadline then is already past.
    await service.sweep();
    await service.sweep();
    expect(harness.events.unavailable).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'offline', since: offlineAt, at: offlineAt + AFTER_MS }]);
  });

  it('is not lost or repeated across a sweeper restart', async () => {
    const { harness, service, workspace } = await setup();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const left = harness.clock.now();
    await alice.setStatus('away');
    harness.clock.advance(AFTER_MS / 2);
    await service.sweep();
    // A new sweeper (a new Lambda, or the local stack restarted) knows only the table.
    const restarted = makeService(harness);
    harness.clock.advance(AFTER_MS / 2);
    await Promise.all([restarted.sweep(), service.sweep()]);
    await restarted.sweep();
    expect(harness.events.unavailable).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'away', since: left, at: left + AFTER_MS }]);
  });

  it('is off by default, off again with null, and a pending period ends when it is turned off', async () => {
    const { harness, service, workspace } = await setup(null);
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await alice.setStatus('away');
    harness.clock.advance(AFTER_MS * 2);
    await service.sweep();
    expect(harness.events.unavailable).toEqual([]);

    expect((await putSettings(service, workspace, { unavailableAfterSeconds: AFTER_S })).body.unavailableAfterSeconds).toBe(AFTER_S);
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    await bob.setStatus('away');
    harness.clock.advance(AFTER_MS / 2);
    expect((await putSettings(service, workspace, { unavailableAfterSeconds: null })).body.unavailableAfterSeconds).toBeNull();
    harness.clock.advance(AFTER_MS);
    await service.sweep();
    expect(harness.events.unavailable).toEqual([]);
  });

  it('a lower value applies to a pending period at once (its deadline moves)', async () => {
    const { harness, service, workspace } = await setup(600);
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const left = harness.clock.now();
    await alice.setStatus('away');
    harness.clock.advance(45_000);
    expect((await putSettings(service, workspace, { unavailableAfterSeconds: 60 })).status).toBe(200);
    harness.clock.current = left + 60_000;
    await service.sweep();
    expect(harness.events.unavailable).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'away', since: left, at: left + 60_000 }]);
  });

  it('refuses values out of bounds (invalid_message) and changes nothing', async () => {
    const harness = await makeHarness({ minUnavailableAfterSeconds: 30 });
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const before = await harness.scanTable();
    for (const value of [29, 3601, 0, -5, 30.5, '60', true]) {
      const reply = await putSettings(service, workspace, { unavailableAfterSeconds: value });
      expect({ value, status: reply.status, code: reply.body?.error?.code }).toEqual({ value, status: 400, code: 'invalid_message' });
    }
    expect(await harness.scanTable()).toEqual(before);
    expect((await putSettings(service, workspace, { unavailableAfterSeconds: 3600 })).status).toBe(200);
  });
});

describe('AgentUnavailable through the table\'s stream', () => {
  it('the sweeper\'s write carries it; the consumer publishes it once', async () => {
    const harness = await streamHarness();
    const reader = await startReader(harness);
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    try {
      expect((await putSettings(service, workspace, { unavailableAfterSeconds: AFTER_S })).status).toBe(200);
      const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
      const left = harness.clock.now();
      await alice.setStatus('away');
      harness.clock.advance(AFTER_MS);
      await service.sweep();
      await reader.drained();
      expect(harness.events.unavailable).toEqual([{ workspaceId: workspace, userId: 'alice', status: 'away', since: left, at: left + AFTER_MS }]);
      expect(harness.events.events.map((event) => event.status)).toEqual(['online', 'away']);
    } finally {
      await reader.stop();
    }
  });
});
