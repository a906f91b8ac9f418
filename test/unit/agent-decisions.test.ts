/**
 * The pure presence rules (functions/domain/decisions.ts and agent.ts) against PROTOCOL.md: every transition
 * with its reason and previous status, every event that must change nothing, what readers see
 * between sweeps, and the deadline the sweeper indexes. Time is injected: no clock, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import {
  type Agent,
  type ChosenStatus,
  type Decision,
  type Identity,
  nextDeadline,
  type Policy,
  type PresenceView,
  type Reason,
  type Status,
  type Transition,
  versionAfter,
  view,
} from '#domain/agent.ts';
import { connect, disconnect, expire, heartbeat, logout, setStatus } from '#domain/decisions.ts';

const policy: Policy = { leaseMs: 90_000, graceMs: 10_000, idleTimeoutMs: 600_000 };

/** 2025-11-24T16:00:00Z: the first connect of every scenario. */
const T0 = 1_764_000_000_000;
const LEASE_END = T0 + policy.leaseMs;
const IDLE_DEADLINE = T0 + policy.idleTimeoutMs;
/** After the idle deadline, while c1 of idleOffline() is still live (its lease, renewed at T0 + 540 s, ends at T0 + 630 s). */
const AFTER_IDLE = T0 + 620_000;

const alice: Identity = { workspaceId: 'acme', userId: 'alice', name: 'Alice', teams: ['sales'] };

function published(status: Status, previous: Status, reason: Reason, at: number): Transition {
  // Versions have their own test below; here any version will do.
  return { workspaceId: 'acme', userId: 'alice', name: 'Alice', teams: ['sales'], status, previous, reason, at, version: expect.any(Number) as unknown as number };
}

// ---- Scenario builders: every state is reached through the public events, at explicit times. ----

/** Alice opens `connectionId` at `at` (connectedAt = at). */
function open(stored: Agent | undefined, connectionId: string, at: number): Decision {
  return connect(stored, { identity: alice, connectionId, connectedAt: at, now: at }, policy);
}

function beat(stored: Agent, at: number, active: boolean, connectionId = 'c1', connectedAt = T0): Decision {
  return heartbeat(stored, { identity: alice, connectionId, connectedAt, active, now: at }, policy);
}

function choose(stored: Agent | undefined, chosen: ChosenStatus, at: number, connectionId = 'c1'): Decision {
  return setStatus(stored, { identity: alice, connectionId, connectedAt: T0, chosen, awayReason: null, now: at }, policy);
}

/** Online (or away) on connection c1 since T0; lastActiveAt = T0, leaseUntil = T0 + 90 s. */
function connectedAt0(chosen: ChosenStatus = 'online'): Agent {
  const agent = open(undefined, 'c1', T0).agent;
  return chosen === 'online' ? agent : choose(agent, chosen, T0).agent;
}

/** Inactive heartbeats on c1 every 30 s in (from, to]: the connection stays live, activity does not move. */
function keepAlive(agent: Agent, from: number, to: number): Agent {
  let current = agent;
  for (let at = from + 30_000; at <= to; at += 30_000) current = beat(current, at, false).agent;
  return current;
}

/** Idle-offline since T0 + 600 s with c1 still live (heartbeats without activity until T0 + 570 s). */
function idleOffline(chosen: ChosenStatus = 'online'): Agent {
  const agent = expire(keepAlive(connectedAt0(chosen), T0, T0 + 570_000), { now: IDLE_DEADLINE }, policy).agent;
  expect(agent).toMatchObject({ status: 'offline', reason: 'idle', since: IDLE_DEADLINE });
  return agent;
}

/** Offline after closing c1 at T0 + 20 s and the grace (10 s) passing. */
function disconnected(): Agent {
  const closed = disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent;
  const agent = expire(closed, { now: T0 + 30_000 }, policy).agent;
  expect(agent).toMatchObject({ status: 'offline', reason: 'disconnect' });
  return agent;
}

/** Offline after c1 stopped sending heartbeats (the lease ended at T0 + 90 s). */
function timedOut(): Agent {
  const agent = expire(connectedAt0(), { now: LEASE_END }, policy).agent;
  expect(agent).toMatchObject({ status: 'offline', reason: 'timeout' });
  return agent;
}

/** Logged out at T0 + 10 s, having chosen `chosen`. */
function loggedOut(chosen: ChosenStatus = 'online'): Agent {
  const agent = logout(connectedAt0(chosen), { by: null, now: T0 + 10_000 }, policy).agent;
  expect(agent).toMatchObject({ status: 'offline', reason: 'logout', loggedOut: true });
  return agent;
}

describe('transitions: each is published once, with its reason and previous status', () => {
  interface Row {
    behaviour: string;
    act: () => Decision;
    transitions: Transition[];
    dropped?: string[];
  }
  const rows: Row[] = [
    {
      behaviour: 'a first connect brings a new user online',
      act: () => open(undefined, 'c1', T0),
      transitions: [published('online', 'offline', 'connect', T0)],
    },
    {
      behaviour: 'connecting after a disconnect brings the chosen status back',
      act: () => open(disconnected(), 'c2', T0 + 60_000),
      transitions: [published('online', 'offline', 'connect', T0 + 60_000)],
    },
    {
      behaviour: 'connecting after a timeout brings the chosen status back',
      act: () => open(timedOut(), 'c2', T0 + 120_000),
      transitions: [published('online', 'offline', 'connect', T0 + 120_000)],
    },
    {
      behaviour: 'connecting while idle-offline brings the chosen status back with reason connect',
      act: () => open(idleOffline('away'), 'c2', AFTER_IDLE),
      transitions: [published('away', 'offline', 'connect', AFTER_IDLE)],
    },
    {
      behaviour: 'connecting after a logout brings the kept chosen status back',
      act: () => open(loggedOut('away'), 'c2', T0 + 60_000),
      transitions: [published('away', 'offline', 'connect', T0 + 60_000)],
    },
    {
      behaviour: 'an idle-offline user heartbeating active:true comes back with reason active',
      act: () => beat(idleOffline(), AFTER_IDLE, true),
      transitions: [published('online', 'offline', 'active', AFTER_IDLE)],
    },
    {
      behaviour: 'setStatus away turns an online user away',
      act: () => choose(connectedAt0(), 'away', T0 + 5_000),
      transitions: [published('away', 'online', 'manual', T0 + 5_000)],
    },
    {
      behaviour: 'setStatus online turns an away user online',
      act: () => choose(connectedAt0('away'), 'online', T0 + 5_000),
      transitions: [published('online', 'away', 'manual', T0 + 5_000)],
    },
    {
      behaviour: 'setStatus from idle-offline counts as activity and shows the new choice',
      act: () => choose(idleOffline(), 'away', AFTER_IDLE),
      transitions: [published('away', 'offline', 'manual', AFTER_IDLE)],
    },
    {
      behaviour: 'the last connection closing goes offline (disconnect) when the grace ends, at graceUntil',
      act: () => expire(disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent, { now: T0 + 45_000 }, policy),
      transitions: [published('offline', 'online', 'disconnect', T0 + 30_000)],
    },
    {
      behaviour: 'a lease passing with connections recorded goes offline (timeout) at leaseUntil and drops them',
      act: () => expire(open(connectedAt0(), 'c2', T0 + 1_000).agent, { now: T0 + 95_000 }, policy),
      transitions: [published('offline', 'online', 'timeout', T0 + 91_000)],
      dropped: ['c1', 'c2'],
    },
    {
      behaviour: 'no activity for the idle timeout goes offline (idle) at lastActiveAt + idleTimeout',
      act: () => expire(keepAlive(connectedAt0(), T0, T0 + 570_000), { now: T0 + 605_000 }, policy),
      transitions: [published('offline', 'online', 'idle', IDLE_DEADLINE)],
    },
    {
      behaviour: 'an away user going idle publishes previous away',
      act: () => expire(keepAlive(connectedAt0('away'), T0, T0 + 570_000), { now: IDLE_DEADLINE }, policy),
      transitions: [published('offline', 'away', 'idle', IDLE_DEADLINE)],
    },
    {
      behaviour: 'logout takes an online user offline at once and drops every connection',
      act: () => logout(open(connectedAt0(), 'c2', T0 + 1_000).agent, { by: null, now: T0 + 10_000 }, policy),
      transitions: [published('offline', 'online', 'logout', T0 + 10_000)],
      dropped: ['c1', 'c2'],
    },
  ];

  it.each(rows)('$behaviour', ({ act, transitions, dropped = [] }) => {
    // Prepare + Act
    const decision = act();

    // Assess
    expect(decision.transitions).toEqual(transitions);
    expect(decision.changed).toBe(true);
    expect([...decision.droppedConnections].sort()).toEqual(dropped);
    const last = transitions.at(-1);
    expect(decision.agent).toMatchObject({ status: last?.status, reason: last?.reason, since: last?.at });
  });
});

describe('details of the transitions', () => {
  it('the idle deadline is lastActiveAt + idleTimeout of the stored agent', () => {
    // Prepare
    const agent = keepAlive(connectedAt0(), T0, T0 + 570_000);

    // Act
    const decision = expire(agent, { now: T0 + 615_000 }, policy);

    // Assess
    expect(agent.lastActiveAt).toBe(T0);
    expect(decision.transitions).toEqual([
      published('offline', 'online', 'idle', agent.lastActiveAt + policy.idleTimeoutMs),
    ]);
    expect(decision.droppedConnections).toEqual([]);
    expect(decision.agent.connections).toEqual({ c1: T0 });
  });

  it('the timeout forgets the dead connections and the lease', () => {
    // Prepare
    const agent = connectedAt0();

    // Act
    const decision = expire(agent, { now: T0 + 120_000 }, policy);

    // Assess
    expect(decision.transitions).toEqual([published('offline', 'online', 'timeout', LEASE_END)]);
    expect(decision.droppedConnections).toEqual(['c1']);
    expect(decision.agent).toMatchObject({ connections: {}, leaseUntil: 0, graceUntil: null });
  });

  it('closing the last connection starts the grace and publishes nothing yet', () => {
    // Prepare
    const agent = connectedAt0();

    // Act
    const decision = disconnect(agent, { closed: ['c1'], now: T0 + 20_000 }, policy);

    // Assess
    expect(decision.transitions).toEqual([]);
    expect(decision.changed).toBe(true);
    expect(decision.agent).toMatchObject({ status: 'online', connections: {}, leaseUntil: 0, graceUntil: T0 + 30_000 });
  });

  it('logout keeps the chosen status, marks the agent logged out and clears lease and grace', () => {
    // Prepare
    const agent = open(connectedAt0('away'), 'c2', T0 + 1_000).agent;

    // Act
    const decision = logout(agent, { by: null, now: T0 + 10_000 }, policy);

    // Assess
    expect(decision.transitions).toEqual([published('offline', 'away', 'logout', T0 + 10_000)]);
    expect(decision.agent).toMatchObject({
      chosen: 'away',
      loggedOut: true,
      connections: {},
      leaseUntil: 0,
      graceUntil: null,
    });
  });

  it('connecting after logout clears the logout flag and publishes connect', () => {
    // Prepare
    const agent = loggedOut('away');

    // Act
    const decision = open(agent, 'c3', T0 + 60_000);

    // Assess
    expect(decision.transitions).toEqual([published('away', 'offline', 'connect', T0 + 60_000)]);
    expect(decision.agent).toMatchObject({
      chosen: 'away',
      loggedOut: false,
      connections: { c3: T0 + 60_000 },
      leaseUntil: T0 + 60_000 + policy.leaseMs,
      lastActiveAt: T0 + 60_000,
    });
  });

  it('an away user who goes idle and becomes active again is away, not online', () => {
    // Prepare
    const away = keepAlive(connectedAt0('away'), T0, T0 + 570_000);

    // Act
    const idle = expire(away, { now: IDLE_DEADLINE }, policy);
    const active = beat(idle.agent, AFTER_IDLE, true);

    // Assess
    expect(idle.transitions).toEqual([published('offline', 'away', 'idle', IDLE_DEADLINE)]);
    expect(active.transitions).toEqual([published('away', 'offline', 'active', AFTER_IDLE)]);
    expect(active.agent).toMatchObject({ chosen: 'away', status: 'away', lastActiveAt: AFTER_IDLE });
  });

  it('a heartbeat after the lease passed but before a sweep publishes timeout at leaseUntil, then connect', () => {
    // Prepare
    const agent = connectedAt0();

    // Act
    const decision = beat(agent, T0 + 100_000, true);

    // Assess
    expect(decision.transitions).toEqual([
      published('offline', 'online', 'timeout', LEASE_END),
      published('online', 'offline', 'connect', T0 + 100_000),
    ]);
    expect(decision.droppedConnections).toEqual([]);
    expect(decision.agent).toMatchObject({
      status: 'online',
      reason: 'connect',
      connections: { c1: T0 },
      leaseUntil: T0 + 100_000 + policy.leaseMs,
    });
  });

  it('a connection revived by its own heartbeat is not among the dropped connections', () => {
    // Prepare
    const agent = open(connectedAt0(), 'c2', T0 + 1_000).agent;

    // Act
    const decision = beat(agent, T0 + 100_000, false, 'c2', T0 + 1_000);

    // Assess
    expect(decision.droppedConnections).toEqual(['c1']);
    expect(decision.agent.connections).toEqual({ c2: T0 + 1_000 });
  });

  it('an active heartbeat after the idle deadline but before a sweep publishes idle, then active', () => {
    // Prepare
    const agent = keepAlive(connectedAt0(), T0, T0 + 570_000);

    // Act
    const decision = beat(agent, T0 + 610_000, true);

    // Assess
    expect(decision.transitions).toEqual([
      published('offline', 'online', 'idle', IDLE_DEADLINE),
      published('online', 'offline', 'active', T0 + 610_000),
    ]);
  });

  it('connecting after the grace passed but before a sweep publishes disconnect at graceUntil, then connect', () => {
    // Prepare
    const closed = disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent;

    // Act
    const decision = open(closed, 'c2', T0 + 40_000);

    // Assess
    expect(decision.transitions).toEqual([
      published('offline', 'online', 'disconnect', T0 + 30_000),
      published('online', 'offline', 'connect', T0 + 40_000),
    ]);
  });

  it('the transition carries the name and teams of the latest token', () => {
    // Prepare
    const renamed: Identity = { ...alice, name: 'Alice B.', teams: ['sales', 'vip'] };

    // Act
    const decision = connect(disconnected(), { identity: renamed, connectionId: 'c2', connectedAt: T0 + 60_000, now: T0 + 60_000 }, policy);

    // Assess
    expect(decision.transitions).toEqual([
      { ...published('online', 'offline', 'connect', T0 + 60_000), name: 'Alice B.', teams: ['sales', 'vip'] },
    ]);
  });

  // Regression: with the idle latch written as lastActiveAt <= since, activity landing in the very
  // millisecond of the idle deadline was latched as idle and the active user stayed offline.
  it('a user active exactly at the idle deadline is not left offline', () => {
    // Prepare
    const agent = keepAlive(connectedAt0(), T0, T0 + 570_000);

    // Act
    const decision = beat(agent, IDLE_DEADLINE, true);

    // Assess
    expect(decision.agent.status).toBe('online');
    expect(view(decision.agent, IDLE_DEADLINE, policy).status).toBe('online');
  });
});

describe('nothing changes: no transition is published', () => {
  interface Row {
    behaviour: string;
    /** Every decision of the scenario after its preparation; none may publish anything. */
    act: () => Decision[];
    changed?: boolean;
    status: Status;
  }
  const rows: Row[] = [
    {
      behaviour: 'a second tab closing while another is open',
      act: () => {
        const twoTabs = open(connectedAt0(), 'c2', T0 + 1_000).agent;
        const closed = disconnect(twoTabs, { closed: ['c1'], now: T0 + 5_000 }, policy);
        return [closed, expire(closed.agent, { now: T0 + 30_000 }, policy)];
      },
      status: 'online',
    },
    {
      behaviour: 'a reload within the grace (disconnect, then connect before graceUntil, then the grace end)',
      act: () => {
        const closed = disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy);
        const reopened = open(closed.agent, 'c2', T0 + 25_000);
        return [closed, reopened, expire(reopened.agent, { now: T0 + 30_000 }, policy)];
      },
      status: 'online',
    },
    {
      behaviour: 'an inactive heartbeat of an online user within the lease',
      act: () => [beat(connectedAt0(), T0 + 30_000, false)],
      changed: false,
      status: 'online',
    },
    {
      behaviour: 'an active heartbeat within the lease and the activity granularity',
      act: () => [beat(connectedAt0(), T0 + 30_000, true)],
      changed: false,
      status: 'online',
    },
    {
      behaviour: 'an idle-offline user evaluated with a raised idle timeout stays offline (idle is latched)',
      act: () => {
        const raised: Policy = { ...policy, idleTimeoutMs: 1_200_000 };
        return [expire(idleOffline(), { now: AFTER_IDLE }, raised)];
      },
      changed: false,
      status: 'offline',
    },
    {
      behaviour: 'an inactive heartbeat of an idle-offline user',
      act: () => [beat(idleOffline(), T0 + 610_000, false)],
      status: 'offline',
    },
    {
      behaviour: 'setStatus online of an online user',
      act: () => [choose(connectedAt0(), 'online', T0 + 5_000)],
      changed: true, // no transition, but the deliberate choice records activity exactly
      status: 'online',
    },
    {
      behaviour: 'setStatus away of an away user',
      act: () => [choose(connectedAt0('away'), 'away', T0 + 5_000)],
      changed: true, // no transition, but the deliberate choice records activity exactly
      status: 'away',
    },
    {
      behaviour: 'a second logout',
      act: () => [logout(loggedOut(), { by: null, now: T0 + 20_000 }, policy)],
      changed: false,
      status: 'offline',
    },
    {
      behaviour: 'a heartbeat after logout (loggedOut: the connection was closed)',
      act: () => [beat(loggedOut(), T0 + 20_000, true)],
      changed: false,
      status: 'offline',
    },
    {
      behaviour: 'a setStatus after logout',
      act: () => [choose(loggedOut(), 'away', T0 + 20_000)],
      changed: false,
      status: 'offline',
    },
    {
      behaviour: 'a sweep before any deadline',
      act: () => [expire(connectedAt0(), { now: T0 + 60_000 }, policy)],
      changed: false,
      status: 'online',
    },
    {
      behaviour: 'a close of a connection that is not recorded',
      act: () => [disconnect(connectedAt0(), { closed: ['unknown'], now: T0 + 5_000 }, policy)],
      changed: false,
      status: 'online',
    },
  ];

  it.each(rows)('$behaviour', ({ act, changed, status }) => {
    // Prepare + Act
    const decisions = act();

    // Assess
    for (const decision of decisions) expect(decision.transitions).toEqual([]);
    if (changed !== undefined) expect(decisions.map((decision) => decision.changed)).toEqual(decisions.map(() => changed));
    expect(decisions.at(-1)?.agent.status).toBe(status);
  });

  it('a heartbeat past half the lease renews it without a transition', () => {
    // Prepare
    const agent = connectedAt0();

    // Act
    const decision = beat(agent, T0 + 50_000, false);

    // Assess
    expect(decision.transitions).toEqual([]);
    expect(decision.changed).toBe(true);
    expect(decision.agent.leaseUntil).toBe(T0 + 50_000 + policy.leaseMs);
  });

  it('a heartbeat at exactly half the lease does not renew it yet', () => {
    // Prepare
    const agent = connectedAt0();

    // Act
    const decision = beat(agent, T0 + 45_000, false);

    // Assess
    expect(decision.changed).toBe(false);
    expect(decision.agent.leaseUntil).toBe(LEASE_END);
  });

  it('a reload within the grace keeps status and since, and ends the grace', () => {
    // Prepare
    const closed = disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent;

    // Act
    const reopened = open(closed, 'c2', T0 + 25_000).agent;

    // Assess
    expect(reopened).toMatchObject({ status: 'online', since: T0, graceUntil: null, connections: { c2: T0 + 25_000 } });
    expect(nextDeadline(reopened, policy)).toBe(T0 + 25_000 + policy.leaseMs);
  });

  it('an idle-offline user with a raised idle timeout comes back only with activity', () => {
    // Prepare
    const raised: Policy = { ...policy, idleTimeoutMs: 1_200_000 };
    const agent = idleOffline();

    // Act
    const inactive = heartbeat(agent, { identity: alice, connectionId: 'c1', connectedAt: T0, active: false, now: T0 + 610_000 }, raised);
    const active = heartbeat(inactive.agent, { identity: alice, connectionId: 'c1', connectedAt: T0, active: true, now: T0 + 640_000 }, raised);

    // Assess
    expect(view(agent, AFTER_IDLE, raised).status).toBe('offline');
    expect(inactive.transitions).toEqual([]);
    expect(active.transitions).toEqual([published('online', 'offline', 'active', T0 + 640_000)]);
  });

  it('a heartbeat after logout returns the stored agent untouched', () => {
    // Prepare
    const agent = loggedOut();

    // Act
    const decision = beat(agent, T0 + 20_000, true, 'c9', T0 + 15_000);

    // Assess
    expect(decision).toEqual({ agent, changed: false, transitions: [], droppedConnections: [], notices: [] });
  });
});

describe('view: exact at read time, before any sweep', () => {
  interface Row {
    behaviour: string;
    agent: () => Agent;
    now: number;
    policy?: Policy;
    expected: Pick<PresenceView, 'status' | 'since'>;
  }
  const rows: Row[] = [
    { behaviour: 'online within the lease', agent: () => connectedAt0(), now: T0 + 60_000, expected: { status: 'online', since: T0 } },
    { behaviour: 'away within the lease', agent: () => connectedAt0('away'), now: T0 + 60_000, expected: { status: 'away', since: T0 } },
    {
      behaviour: 'past the lease: offline since leaseUntil',
      agent: () => connectedAt0(),
      now: T0 + 100_000,
      expected: { status: 'offline', since: LEASE_END },
    },
    {
      behaviour: 'exactly at leaseUntil: offline',
      agent: () => connectedAt0(),
      now: LEASE_END,
      expected: { status: 'offline', since: LEASE_END },
    },
    {
      behaviour: 'past the idle deadline: offline since lastActiveAt + idleTimeout',
      agent: () => keepAlive(connectedAt0(), T0, T0 + 570_000),
      now: T0 + 610_000,
      expected: { status: 'offline', since: IDLE_DEADLINE },
    },
    {
      behaviour: 'within the grace: still online',
      agent: () => disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent,
      now: T0 + 29_999,
      expected: { status: 'online', since: T0 },
    },
    {
      behaviour: 'past the grace: offline since graceUntil',
      agent: () => disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent,
      now: T0 + 40_000,
      expected: { status: 'offline', since: T0 + 30_000 },
    },
    {
      behaviour: 'idle-offline with a raised idle timeout: still offline since the idle deadline',
      agent: () => idleOffline(),
      now: AFTER_IDLE,
      policy: { ...policy, idleTimeoutMs: 1_200_000 },
      expected: { status: 'offline', since: IDLE_DEADLINE },
    },
    { behaviour: 'logged out: offline since the logout', agent: () => loggedOut(), now: T0 + 60_000, expected: { status: 'offline', since: T0 + 10_000 } },
    {
      behaviour: 'disconnected: offline since the end of the grace',
      agent: () => disconnected(),
      now: T0 + 60_000,
      expected: { status: 'offline', since: T0 + 30_000 },
    },
  ];

  it.each(rows)('$behaviour', ({ agent, now, policy: rowPolicy, expected }) => {
    // Prepare
    const stored = agent();

    // Act
    const seen = view(stored, now, rowPolicy ?? policy);

    // Assess
    expect(seen).toEqual({ userId: 'alice', name: 'Alice', teams: ['sales'], lastActiveAt: stored.lastActiveAt, ...expected });
  });

  it('agrees with what the sweep then publishes', () => {
    // Prepare
    const agent = connectedAt0();

    // Act
    const seen = view(agent, T0 + 100_000, policy);
    const swept = expire(agent, { now: T0 + 100_000 }, policy).agent;

    // Assess
    expect(view(swept, T0 + 100_000, policy)).toEqual(seen);
  });
});

describe('nextDeadline: when the status changes with no further event', () => {
  interface Row {
    behaviour: string;
    agent: () => Agent;
    policy?: Policy;
    expected: number | null;
  }
  const rows: Row[] = [
    { behaviour: 'online: the end of the lease when it comes before idle', agent: () => connectedAt0(), expected: LEASE_END },
    {
      behaviour: 'online: the idle deadline when it comes before the lease end',
      agent: () => connectedAt0(),
      policy: { ...policy, idleTimeoutMs: 60_000 },
      expected: T0 + 60_000,
    },
    {
      behaviour: 'online, lease renewed near idle: the idle deadline',
      agent: () => keepAlive(connectedAt0(), T0, T0 + 570_000),
      expected: IDLE_DEADLINE,
    },
    {
      behaviour: 'in the grace: its end',
      agent: () => disconnect(connectedAt0(), { closed: ['c1'], now: T0 + 20_000 }, policy).agent,
      expected: T0 + 30_000,
    },
    {
      behaviour: 'in the grace with the idle deadline first: the idle deadline',
      agent: () => disconnect(keepAlive(connectedAt0(), T0, T0 + 570_000), { closed: ['c1'], now: T0 + 595_000 }, policy).agent,
      expected: IDLE_DEADLINE,
    },
    { behaviour: 'disconnected: none', agent: () => disconnected(), expected: null },
    { behaviour: 'timed out: none', agent: () => timedOut(), expected: null },
    { behaviour: 'idle-offline: none', agent: () => idleOffline(), expected: null },
    { behaviour: 'logged out: none', agent: () => loggedOut(), expected: null },
  ];

  it.each(rows)('$behaviour', ({ agent, policy: rowPolicy, expected }) => {
    // Prepare
    const stored = agent();

    // Act
    const deadline = nextDeadline(stored, rowPolicy ?? policy);

    // Assess
    expect(deadline).toBe(expected);
  });
});

/** What the settings rollout does: judge the agent under the new timeout with the change recorded. */
function changePolicy(agent: Agent, now: number, before: Policy, after: Policy): Decision {
  return expire(agent, { now }, { ...after, idleTimeoutChanges: [{ previousIdleTimeoutMs: before.idleTimeoutMs, at: now }] });
}

describe('a changed idle timeout (expire under the new policy with the change)', () => {
  const longer: Policy = { ...policy, idleTimeoutMs: 3_600_000 };
  const shorter: Policy = { ...policy, idleTimeoutMs: 300_000 };

  it('keeps an agent readers already saw idle offline when the timeout is raised, and publishes it as it was', () => {
    // Last beat at T0 + 570 s (lease to T0 + 660 s); idle since T0 + 600 s, not swept yet.
    const agent = keepAlive(connectedAt0('away'), T0, T0 + 570_000);
    const decision = changePolicy(agent, T0 + 630_000, policy, longer);
    expect(decision.transitions).toEqual([published('offline', 'away', 'idle', IDLE_DEADLINE)]);
    expect(view(decision.agent, T0 + 631_000, longer).status).toBe('offline');
  });

  it('publishes a lease that ended before the old idle deadline as timeout, not as an earlier idle', () => {
    const decision = changePolicy(connectedAt0(), T0 + 900_000, policy, shorter);
    expect(decision.transitions).toEqual([published('offline', 'online', 'timeout', LEASE_END)]);
  });

  it('takes a present agent past the new, shorter timeout idle now, in the same decision', () => {
    // Active last at T0: the new deadline T0 + 300 s is behind, but readers saw them online until now.
    const agent = keepAlive(connectedAt0(), T0, T0 + 330_000);
    const decision = changePolicy(agent, T0 + 330_000, policy, shorter);
    expect(decision.transitions.map((t) => [t.reason, t.at])).toEqual([['idle', T0 + 330_000]]);
    expect(decision.agent.since).toBe(T0 + 330_000);
    expect(decision.changed).toBe(true);
  });

  it('publishes nothing for an agent within both timeouts', () => {
    const agent = keepAlive(connectedAt0(), T0, T0 + 120_000);
    const decision = changePolicy(agent, T0 + 120_000, policy, longer);
    expect(decision.transitions).toEqual([]);
    expect(view(decision.agent, T0 + 120_000, longer).status).toBe('online');
  });
});

describe('activity from before a change of the idle timeout (the change is in the policy)', () => {
  // The timeout went from 600 s to 300 s at T0 + 330 s; Alice was last active at T0.
  const lowered: Policy = { ...policy, idleTimeoutMs: 300_000, idleTimeoutChanges: [{ previousIdleTimeoutMs: 600_000, at: T0 + 330_000 }] };

  it('takes her idle at the change, on any path: a heartbeat before the settings change reached her', () => {
    const agent = keepAlive(connectedAt0(), T0, T0 + 330_000);
    // Another path (her own heartbeat) judges her under the new settings first.
    const decision = heartbeat(agent, { identity: alice, connectionId: 'c1', connectedAt: T0, active: false, now: T0 + 335_000 }, lowered);
    expect(decision.transitions).toEqual([published('offline', 'online', 'idle', T0 + 330_000)]);
  });

  it('shows readers the same instant before anyone writes her', () => {
    const agent = keepAlive(connectedAt0(), T0, T0 + 330_000);
    expect(view(agent, T0 + 335_000, lowered)).toMatchObject({ status: 'offline', since: T0 + 330_000 });
    expect(nextDeadline(agent, lowered)).toBe(T0 + 330_000);
  });

  it('keeps the old deadline when it passed before a raise (readers saw her idle then)', () => {
    const raised: Policy = { ...policy, idleTimeoutMs: 3_600_000, idleTimeoutChanges: [{ previousIdleTimeoutMs: 600_000, at: T0 + 620_000 }] };
    // Not swept: stored online, lease to T0 + 630 s (last beat at T0 + 540 s, renewed).
    const agent = keepAlive(connectedAt0(), T0, T0 + 570_000);
    expect(agent.status).toBe('online');
    expect(view(agent, T0 + 629_000, raised)).toMatchObject({ status: 'offline', since: IDLE_DEADLINE });
  });

  it('replays two close changes in order: idle at the first stays at the first when the second undoes it', () => {
    // 600 s -> 60 s at +305 (idle at the change), back to 600 s at +310.
    const twice: Policy = {
      ...policy,
      idleTimeoutChanges: [
        { previousIdleTimeoutMs: 600_000, at: T0 + 305_000 },
        { previousIdleTimeoutMs: 60_000, at: T0 + 310_000 },
      ],
    };
    const agent = keepAlive(connectedAt0(), T0, T0 + 300_000);
    expect(view(agent, T0 + 312_000, twice)).toMatchObject({ status: 'offline', since: T0 + 305_000 });
    const decision = heartbeat(agent, { identity: alice, connectionId: 'c1', connectedAt: T0, active: false, now: T0 + 312_000 }, twice);
    expect(decision.transitions).toEqual([published('offline', 'online', 'idle', T0 + 305_000)]);
  });

  it('replays two raises in order: idle seen before the first stays (no silent comeback)', () => {
    const raisedTwice: Policy = {
      ...policy,
      idleTimeoutMs: 7_200_000,
      idleTimeoutChanges: [
        { previousIdleTimeoutMs: 600_000, at: T0 + 601_000 },
        { previousIdleTimeoutMs: 3_600_000, at: T0 + 602_000 },
      ],
    };
    const agent = keepAlive(connectedAt0(), T0, T0 + 570_000);
    expect(view(agent, T0 + 602_500, raisedTwice)).toMatchObject({ status: 'offline', since: IDLE_DEADLINE });
  });

  it('does not touch activity after the change', () => {
    const agent = beat(keepAlive(connectedAt0(), T0, T0 + 330_000), T0 + 340_000, true).agent;
    expect(nextDeadline(agent, lowered)).toBe(Math.min(agent.leaseUntil, T0 + 340_000 + 300_000));
  });
});

describe('a connection revived while idle latches idle', () => {
  it('after a timeout: the reason becomes idle, so a raised timeout keeps her offline', () => {
    // Lease ends at T0 + 90 s unswept; the idle deadline (T0 + 600 s) passes too; then c1 speaks.
    const revived = beat(connectedAt0(), T0 + 700_000, false).agent;
    expect(revived).toMatchObject({ status: 'offline', reason: 'idle', since: LEASE_END });
    const raised: Policy = { ...policy, idleTimeoutMs: 3_600_000 };
    expect(view(revived, T0 + 701_000, raised).status).toBe('offline');
  });

  it('after a close with no grace in the same millisecond as her last activity', () => {
    const noGrace: Policy = { ...policy, graceMs: 0 };
    const closed = disconnect(connect(undefined, { identity: alice, connectionId: 'c1', connectedAt: T0, now: T0 }, noGrace).agent, { closed: ['c1'], now: T0 }, noGrace).agent;
    expect(closed).toMatchObject({ status: 'offline', reason: 'disconnect', since: T0, lastActiveAt: T0 });
    const revived = heartbeat(closed, { identity: alice, connectionId: 'c1', connectedAt: T0, active: false, now: T0 + 700_000 }, noGrace).agent;
    expect(revived.reason).toBe('idle');
    expect(view(revived, T0 + 701_000, { ...noGrace, idleTimeoutMs: 3_600_000 }).status).toBe('offline');
  });
});

describe('versions: every change of a user has its own, greater than the last', () => {
  it('numbers the changes of one write after the stored version, and the write moves past them', () => {
    // Prepare: alice online at version 3 (as stored), her lease long over.
    const online: Agent = { ...open(undefined, 'c1', T0).agent, version: 3 };

    // Act: a new connection after the lease ended publishes the timeout and the connect in one write.
    const decision = open(online, 'c2', LEASE_END + 1);

    // Assess
    expect(decision.transitions.map((t) => [t.reason, t.version])).toEqual([
      ['timeout', 4],
      ['connect', 5],
    ]);
    expect(versionAfter(3, decision.transitions.length)).toBe(5);
    expect(versionAfter(3, 0)).toBe(4);
  });
});
