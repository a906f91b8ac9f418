/**
 * What each event does to an agent: one function per event, each taking the agent as stored, the
 * event (one object that names every instant and id it carries) and the policy in force, and
 * returning the decision to write. Pure: no I/O and no clock.
 */
import { type Agent, type ChosenStatus, type Decision, evaluate, hasConnections, type Identity, newAgent, type Policy } from '#domain/agent.ts';
import { Draft } from '#domain/draft.ts';

/** Something that arrived on one WebSocket connection. */
interface ConnectionEvent {
  /** The user as their token names them now. */
  identity: Identity;
  connectionId: string;
  /** When API Gateway accepted the connection. */
  connectedAt: number;
  /** When the event is applied. */
  now: number;
}

/** A connection opened (`$connect`). Connecting counts as activity and ends a logout. */
export function connect(stored: Agent | undefined, event: ConnectionEvent, policy: Policy): Decision {
  const { identity, connectionId, connectedAt, now } = event;
  const draft = new Draft(stored ?? newAgent(identity, now));
  if (!stored) draft.changed = true;
  draft.expireDeadlines(now, policy);
  draft.refreshIdentity(identity);
  draft.attach(connectionId, connectedAt, now, policy);
  draft.agent.leaseUntil = now + policy.leaseMs;
  draft.markActive(now, policy, true);
  draft.changed = true;
  draft.publishEffectiveStatus(now, policy, 'connect');
  return draft.decision();
}

/**
 * Connections closed (`$disconnect`, or the gateway reported them gone). Several at once when
 * other tabs closed too: the first writer then takes them all, and the others' disconnects find
 * nothing left to write.
 */
export function disconnect(stored: Agent, event: { closed: readonly string[]; now: number }, policy: Policy): Decision {
  const { closed, now } = event;
  const draft = new Draft(stored);
  draft.expireDeadlines(now, policy);
  const agent = draft.agent;
  const present = closed.filter((id) => id in agent.connections);
  if (present.length > 0) {
    for (const id of present) delete agent.connections[id];
    draft.changed = true;
    if (!hasConnections(agent)) {
      agent.leaseUntil = 0;
      agent.graceUntil = now + policy.graceMs;
    }
    draft.expireDeadlines(now, policy);
  }
  return draft.decision();
}

/**
 * A message arrived on a connection: a heartbeat, or a `setStatus` (which counts as activity).
 * A message from a connection we had given up on (its lease passed) proves it is alive again.
 */
function touch(stored: Agent, event: ConnectionEvent, active: boolean, policy: Policy): { draft: Draft; revived: boolean } | null {
  if (stored.loggedOut) return null; // the connection was closed by logout; nothing it says counts
  const { identity, connectionId, connectedAt, now } = event;
  const draft = new Draft(stored);
  draft.expireDeadlines(now, policy);
  draft.refreshIdentity(identity);
  const revived = draft.attach(connectionId, connectedAt, now, policy);
  draft.renewLease(now, policy);
  if (active) {
    const wasIdle = evaluate(draft.agent, now, policy).status === 'offline';
    draft.markActive(now, policy, wasIdle);
  }
  return { draft, revived };
}

/** A heartbeat; `active`: the user did something since the last one. */
export function heartbeat(stored: Agent | undefined, event: ConnectionEvent & { active: boolean }, policy: Policy): Decision {
  if (!stored) return connect(undefined, event, policy);
  const touched = touch(stored, event, event.active, policy);
  if (!touched) return unchanged(stored);
  // Back from offline on a connection we had given up on is a (re)connect; on a known one, activity.
  touched.draft.publishEffectiveStatus(event.now, policy, touched.revived ? 'connect' : 'active');
  touched.draft.latchIdle(event.now, policy);
  return touched.draft.decision();
}

/** The agent chooses a status (and, with away, optionally one of the workspace's away reasons). */
export function setStatus(
  stored: Agent | undefined,
  event: ConnectionEvent & { chosen: ChosenStatus; awayReason: string | null },
  policy: Policy,
): Decision {
  const base = stored ?? newAgent(event.identity, event.now);
  const touched = touch(base, event, true, policy);
  if (!touched) return unchanged(base);
  const draft = touched.draft;
  if (!stored) draft.changed = true;
  const awayReasonChanged = draft.choose(event.chosen, event.awayReason);
  // A deliberate choice is activity worth recording exactly (it is rare, unlike heartbeats).
  draft.markActive(event.now, policy, true);
  draft.publishEffectiveStatus(event.now, policy, 'manual', awayReasonChanged);
  return draft.decision();
}

/**
 * An admin (`by`) sets the agent's choice. Present: published now with reason `admin` and `by`;
 * offline: only stored, and it comes back when they do. Not the agent's activity: nothing else moves.
 */
export function adminSetStatus(
  stored: Agent,
  event: { chosen: ChosenStatus; awayReason: string | null; by: string; now: number },
  policy: Policy,
): Decision {
  const draft = new Draft(stored, event.by);
  draft.expireDeadlines(event.now, policy);
  const awayReasonChanged = draft.choose(event.chosen, event.awayReason);
  draft.publishEffectiveStatus(event.now, policy, 'admin', awayReasonChanged);
  return draft.decision();
}

/**
 * An admin (`by`) removed away reasons from the workspace: the agent's choice drops one of them,
 * and an agent away with it now is published away with no reason. Null: the agent has none of them.
 */
export function dropAwayReason(
  stored: Agent,
  event: { removed: ReadonlySet<string>; by: string; now: number },
  policy: Policy,
): Decision | null {
  if (stored.awayReason === null || !event.removed.has(stored.awayReason)) return null;
  const draft = new Draft(stored, event.by);
  draft.expireDeadlines(event.now, policy);
  const awayReasonChanged = draft.choose(draft.agent.chosen, null);
  draft.publishEffectiveStatus(event.now, policy, 'admin', awayReasonChanged);
  return draft.decision();
}

/** The user logs out everywhere (or an admin, `by`, signs them out): offline now, connections closed, the choice kept. */
export function logout(stored: Agent, event: { by: string | null; now: number }, policy: Policy): Decision {
  const { by, now } = event;
  const draft = new Draft(stored);
  draft.expireDeadlines(now, policy);
  const agent = draft.agent;
  draft.droppedConnections.push(...Object.keys(agent.connections));
  agent.connections = {};
  agent.leaseUntil = 0;
  agent.graceUntil = null;
  if (!agent.loggedOut) {
    agent.loggedOut = true;
    draft.changed = true;
  }
  if (agent.status !== 'offline') draft.publish('offline', 'logout', now, policy, by);
  draft.changed = draft.changed || draft.droppedConnections.length > 0;
  return draft.decision();
}

/** The sweeper found the agent due: publish what passed, or nothing if a writer got there first. */
export function expire(stored: Agent, event: { now: number }, policy: Policy): Decision {
  const draft = new Draft(stored);
  draft.expireDeadlines(event.now, policy);
  return draft.decision();
}

function unchanged(agent: Agent): Decision {
  return { agent, changed: false, transitions: [], droppedConnections: [], notices: [] };
}
