/** The sweeper handler's loop and the store's pagination, on DynamoDB Local. */
import { describe, expect, it } from 'vitest';
import { putSettings } from '#app/settings.ts';
import { sweep } from '#app/sweep.ts';
import { makeSweeperHandler } from '#handlers/sweeper.ts';
import { harnessDelivers, makeHarness, uniqueWorkspace, storedAgent } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

/**
 * A watcher and alice, whose only tab closed `elapsedMs` ago (by default 7 s: her reconnect grace,
 * 10 s, then ends 3 s from now, between two passes 5 s apart).
 */
async function aliceInGrace(elapsedMs = 7_000) {
  const harness = await makeHarness({ sweepIntervalMs: 5_000 });
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
  const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
  await alice.close();
  const graceEnd = harness.clock.now() + 10_000;
  harness.clock.advance(elapsedMs);
  return { harness, workspace, watcher, graceEnd };
}

describe('sweeper handler', () => {
  it('runs a pass every interval until its minute is nearly used, then stops before the timeout', async () => {
    // Prepare: a Lambda with a 70 s timeout; the clock moves only when the handler sleeps.
    const harness = await makeHarness({ sweepIntervalMs: 5_000 });
    const start = harness.clock.now();
    const sleeps: number[] = [];
    const handler = makeSweeperHandler({
      ports: harness.ports,
      sleep: async (ms) => {
        sleeps.push(ms);
        harness.clock.advance(ms);
      },
      windowMs: 60_000,
      reserveMs: 10_000,
    });
    const context = { getRemainingTimeInMillis: () => 70_000 - (harness.clock.now() - start) };

    // Act
    const result = await handler({}, context);

    // Assess: passes at 0, 5, ..., 55 s: twelve, so a 1-minute schedule gives 5-second precision.
    expect(result.passes).toBe(12);
    expect(sleeps.every((ms) => ms === 5_000)).toBe(true);
    expect(harness.clock.now() - start).toBe(55_000);
  });

  it('stops early when the Lambda timeout would not leave room for another pass', async () => {
    const harness = await makeHarness({ sweepIntervalMs: 5_000 });
    const start = harness.clock.now();
    const handler = makeSweeperHandler({
      ports: harness.ports,
      sleep: async (ms) => harness.clock.advance(ms),
      windowMs: 60_000,
      reserveMs: 10_000,
    });

    const result = await handler({}, { getRemainingTimeInMillis: () => 30_000 - (harness.clock.now() - start) });

    expect(result.passes).toBe(5); // at 0 to 20 s; a pass at 25 s would leave less than the 10 s reserve
  });

  it('publishes within one interval of a deadline across passes', async () => {
    const { harness, watcher } = await aliceInGrace(0);
    const start = harness.clock.now();
    const handler = makeSweeperHandler({
      ports: harness.ports,
      sleep: async (ms) => harness.clock.advance(ms),
      windowMs: 60_000,
      reserveMs: 10_000,
    });

    await handler({}, { getRemainingTimeInMillis: () => 70_000 - (harness.clock.now() - start) });

    const offline = watcher.presence().find((m) => m.reason === 'disconnect');
    expect(offline).toMatchObject({ userId: 'alice', at: start + 10_000 });
    expect(harness.events.events.filter((e) => e.reason === 'disconnect')).toHaveLength(1);
  });
});

describe('store pagination', () => {
  it('follows LastEvaluatedKey for roster, status index and deadline index', async () => {
    // Prepare: pages of 2 items, 7 agents.
    const harness = await makeHarness({}, 2);
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
    for (const sub of users) await TestConnection.open(service, { workspace, sub });

    // Act
    const roster = await harness.store.listAgents(workspace);
    const online = await harness.store.listByStatus(workspace, 'online');
    const connections = await harness.store.listConnections(workspace);
    harness.clock.advance(91_000);
    const report = await service.sweep();

    // Assess
    expect(roster.map((a) => a.userId).sort()).toEqual(users);
    expect(online).toHaveLength(7);
    expect(connections).toHaveLength(7);
    expect(report.transitions).toBe(7);
    expect(await harness.store.listByStatus(workspace, 'online')).toEqual([]);
  });

  it('keeps TTL in epoch seconds and index keys only while they mean something', async () => {
    const harness = await makeHarness();
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });

    const [agentOnline] = (await harness.scanTable()).filter((item) => String(item.sk).startsWith('AGENT#'));
    await alice.logout();
    const [agentOffline] = (await harness.scanTable()).filter((item) => String(item.sk).startsWith('AGENT#'));

    const nowSeconds = harness.clock.now() / 1000;
    expect(agentOnline?.ttl).toBeGreaterThan(nowSeconds);
    expect(agentOnline?.ttl).toBeLessThan(nowSeconds + 91 * 86_400);
    expect(agentOnline).toMatchObject({ statusPk: `WS#${workspace}#STATUS#online`, dueAt: harness.clock.now() + 90_000 });
    expect(agentOffline).not.toHaveProperty('statusPk');
    expect(agentOffline).not.toHaveProperty('duePk');
    expect(agentOffline).toMatchObject({ chosen: 'online', status: 'offline', loggedOut: true });
  });
});

describe('look-ahead: each pass expires what falls due before the next at its deadline', () => {
  /** A manual clock moved forward to where a sleep would end; sleeps that overlap never add up. */
  function sleeper(harness: Awaited<ReturnType<typeof makeHarness>>) {
    return async (ms: number) => {
      harness.clock.current = Math.max(harness.clock.current, harness.clock.now() + ms);
    };
  }

  it('publishes a deadline when it passes, not at the next pass', async () => {
    const { harness, watcher, graceEnd: deadline } = await aliceInGrace(2_000);
    const start = harness.clock.now(); // passes at +0, +5, +10 s: the deadline, +8 s, falls between
    const postedAt: number[] = [];
    const post = harness.gateway.post.bind(harness.gateway);
    harness.gateway.post = async (connectionId, message) => {
      if ((message as { changes?: Array<{ reason: string }> }).changes?.some((change) => change.reason === 'disconnect')) postedAt.push(harness.clock.now());
      await post(connectionId, message);
    };
    const handler = makeSweeperHandler({ ports: harness.ports, sleep: sleeper(harness), windowMs: 60_000, reserveMs: 10_000, lookAhead: true });

    await handler({}, { getRemainingTimeInMillis: () => 70_000 - (harness.clock.now() - start) });

    // The pass at +5 s takes it and posts at +8 s; without the look-ahead the +10 s pass would.
    expect(postedAt).toEqual([deadline]);
    expect(watcher.presence().filter((m) => m.reason === 'disconnect')).toEqual([expect.objectContaining({ userId: 'alice', at: deadline })]);
    expect(harness.events.events.filter((e) => e.reason === 'disconnect')).toHaveLength(1);
  });

  it('expires a deadline between passes at that instant', async () => {
    const { harness } = await aliceInGrace();
    const deadline = harness.clock.now() + 3_000;
    const waits: number[] = [];

    const report = await sweep(harness.ports, {
      lookAheadMs: 5_000,
      waitUntil: async (at) => {
        waits.push(at);
        harness.clock.current = at;
      },
    });

    expect(waits).toEqual([deadline]);
    expect(report.transitions).toBe(1);
    expect(harness.events.events.filter((e) => e.reason === 'disconnect')).toEqual([expect.objectContaining({ userId: 'alice', at: deadline })]);
  });

  it('publishes nothing for an agent renewed before its deadline came', async () => {
    const harness = await makeHarness({ sweepIntervalMs: 5_000 });
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    harness.clock.advance(50_000);
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    harness.clock.advance(37_000); // alice's lease (90 s) ends 3 s from now
    harness.events.events.length = 0;

    const report = await sweep(harness.ports, {
      lookAheadMs: 5_000,
      waitUntil: async (at) => {
        // Her tab beats while the sweeper waits: the lease moves on.
        await alice.heartbeat(false);
        harness.clock.current = at;
      },
    });

    expect(report.transitions).toBe(0);
    expect(harness.events.events).toEqual([]);
    expect(watcher.presence().filter((m) => m.userId === 'alice')).toEqual([]);
    expect((await storedAgent(harness.store, workspace, 'alice'))?.status).toBe('online');
  });

  it('decides with the settings as they are at the deadline, not as the pass read them', async () => {
    const harness = await makeHarness({ sweepIntervalMs: 5_000, minIdleTimeoutSeconds: 60 });
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const admin = { workspaceId: workspace, userId: 'admin', name: 'Admin', teams: [], role: 'admin' as const };
    await putSettings(harness.ports, admin, { idleTimeoutSeconds: 60 });
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    await alice.heartbeat(true);
    harness.clock.advance(30_000);
    await watcher.heartbeat(true);
    await bob.close(); // his grace ends at +40 s: due when the pass starts, so it reads the settings first
    harness.clock.advance(27_000); // alice's idle deadline is 3 s away; the watcher stays active
    harness.events.events.length = 0;

    const report = await sweep(harness.ports, {
      lookAheadMs: 5_000,
      waitUntil: async (at) => {
        harness.clock.advance(1_000);
        // While the pass waits, an admin raises the timeout: alice's deadline had not passed.
        await putSettings(harness.ports, admin, { idleTimeoutSeconds: 120 });
        harness.clock.current = at;
      },
    });

    expect(harness.events.events.map((e) => [e.userId, e.reason])).toEqual([['bob', 'disconnect']]);
    expect(report.transitions).toBe(1);
    expect(watcher.presence().filter((m) => m.userId === 'alice' && m.reason === 'idle')).toEqual([]);
  });

  it('reads the settings once for a lease or grace deadline (they do not depend on them), again for an idle one', async () => {
    const { harness } = await aliceInGrace();
    // The sweeper's own reads only: the consumer's (history, rollups) are not counted here.
    harnessDelivers.delete(harness.store);
    const reads: string[] = [];
    harness.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetItemCommand') reads.push(String((args.input as { Key: { sk: unknown } }).Key.sk));
        return next(args);
      },
      { step: 'initialize', name: 'count-gets' },
    );

    const report = await sweep(harness.ports, { lookAheadMs: 5_000, waitUntil: async (at) => {
        harness.clock.current = at;
      },
    });

    expect(report.transitions).toBe(1);
    expect(reads).toEqual(['SETTINGS']);
  });

  it('without waitUntil, looks at nothing that is not due yet', async () => {
    const { harness } = await aliceInGrace();

    const report = await sweep(harness.ports, { lookAheadMs: 5_000 });

    expect(report).toEqual({ read: 0, transitions: 0, rescheduled: 0 });
  });
});

describe('look-ahead in the Lambda sweeper', () => {
  it('waits for no deadline in the last second of its window: the next invocation takes it', async () => {
    const harness = await makeHarness({ sweepIntervalMs: 5_000 });
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    await TestConnection.open(service, { workspace, sub: 'watcher' });
    const early = await TestConnection.open(service, { workspace, sub: 'early' });
    const late = await TestConnection.open(service, { workspace, sub: 'late' });
    const start = harness.clock.now();
    harness.clock.advance(48_000);
    await early.close(); // its grace (10 s) ends at +58 s
    harness.clock.advance(1_500);
    await late.close(); // at +59.5 s, in the window's last second
    harness.clock.current = start; // the invocation's minute starts back at `start`: deadlines at +58 and +59.5 s
    harness.events.events.length = 0;
    const handler = makeSweeperHandler({
      ports: harness.ports,
      sleep: async (ms) => {
        harness.clock.current = Math.max(harness.clock.current, harness.clock.now() + ms);
      },
      windowMs: 60_000,
      reserveMs: 10_000,
      lookAhead: true,
    });

    await handler({}, { getRemainingTimeInMillis: () => 70_000 - (harness.clock.now() - start) });

    expect(harness.events.events.map((e) => [e.userId, e.reason, e.at - start])).toEqual([['early', 'disconnect', 58_000]]);
    expect(harness.clock.now() - start).toBeLessThanOrEqual(59_000);
  });
});

describe('look-ahead waits', () => {
  it('expires a deadline only once the clock has reached it, even when a timer fires early', async () => {
    const { harness } = await aliceInGrace();
    const deadline = harness.clock.now() + 3_000;
    harness.events.events.length = 0;
    const sleeps: number[] = [];
    const handler = makeSweeperHandler({
      ports: harness.ports,
      // A timer longer than a millisecond fires a millisecond early.
      sleep: async (ms) => {
        sleeps.push(ms);
        harness.clock.advance(ms > 1 ? ms - 1 : ms);
      },
      windowMs: 0,
      reserveMs: 0,
      lookAhead: true,
    });

    await handler();

    expect(harness.events.events.map((e) => [e.userId, e.reason, e.at])).toEqual([['alice', 'disconnect', deadline]]);
    expect(harness.clock.now()).toBeGreaterThanOrEqual(deadline);
    expect(sleeps).toEqual([3_000, 1]);
  });
});

describe('stopping during a look-ahead wait', () => {
  it('ends the wait at once and expires nothing before its deadline', async () => {
    const { harness, workspace } = await aliceInGrace();
    harness.events.events.length = 0;
    let sleeps = 0;
    const handler = makeSweeperHandler({
      ports: harness.ports,
      // What the local stack's sleep does once stopping: resolve at once, the clock unmoved.
      sleep: async () => {
        sleeps++;
      },
      windowMs: 0,
      reserveMs: 0,
      lookAhead: true,
      stopping: () => true,
    });

    const result = await handler();

    expect(result.transitions).toBe(0);
    expect(sleeps).toBe(0);
    expect(harness.events.events).toEqual([]);
    expect((await storedAgent(harness.store, workspace, 'alice'))?.status).toBe('online');
  });
});
