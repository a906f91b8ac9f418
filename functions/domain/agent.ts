/**
 * The agent as the service keeps it, and what follows from it at an instant: the effective status
 * readers see, the next deadline, the connections that count. Pure: no I/O and no clock; every
 * function takes `now` (epoch milliseconds). How events change an agent: decisions.ts.
 */

export const CHOSEN_STATUSES = ['online', 'away'] as const;
export type ChosenStatus = (typeof CHOSEN_STATUSES)[number];
export type Status = ChosenStatus | 'offline';
export type Reason = 'connect' | 'active' | 'manual' | 'disconnect' | 'timeout' | 'idle' | 'logout' | 'admin';

/** Timings in force for one agent: deployment-wide lease and grace, the workspace's idle timeout. */
export interface Policy {
  leaseMs: number;
  graceMs: number;
  idleTimeoutMs: number;
  /** The recent changes of the idle timeout, oldest first: what it was before each, and when. */
  idleTimeoutChanges?: IdleTimeoutChange[] | undefined;
  /** The workspace's away reason ids; a choice may name only these. */
  awayReasons?: readonly string[] | undefined;
  /** How long away or offline since leaving online before AgentUnavailable; absent: the hook is off. */
  unavailableAfterMs?: number | undefined;
}

interface IdleTimeoutChange {
  previousIdleTimeoutMs: number;
  at: number;
}

export interface Identity {
  workspaceId: string;
  userId: string;
  name: string;
  teams: string[];
}

/** What the store keeps per agent. `status` is the effective status last published. */
export interface Agent extends Identity {
  chosen: ChosenStatus;
  /** The chosen away reason (an id of the workspace's reasons), or null; only ever set with chosen away. */
  awayReason: string | null;
  status: Status;
  reason: Reason | null;
  since: number;
  lastActiveAt: number;
  /** Open connections of this user: connection id -> connectedAt. */
  connections: Record<string, number>;
  /** Every connection in `connections` counts as live until then; heartbeats renew it. */
  leaseUntil: number;
  /** Set when the last connection closed: the user still counts as present until then. */
  graceUntil: number | null;
  loggedOut: boolean;
  /** The admin whose action published the current status, or null when the user or the service did. */
  by: string | null;
  /**
   * When the agent last left online (an unavailable period began) while the reassignment hook was
   * on; null while online, or when no period is counted.
   */
  unavailableSince: number | null;
  /** True once the current period's AgentUnavailable was committed: one per period. */
  unavailableNotified: boolean;
  /** Optimistic-concurrency version; 0 for an agent not yet stored. */
  version: number;
}

export interface Transition {
  workspaceId: string;
  userId: string;
  name: string;
  teams: string[];
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  /** The user's version this change made: every change of a user has a greater one than the last. */
  version: number;
  /** The away reason, on a change to away that has one. */
  awayReason?: string;
  /** The away reason in force before, on a change from away that had one (reports split away time by it). */
  previousAwayReason?: string;
  /** The admin who made the change (reason `admin`, or `logout` by an admin); absent when the user or the service did. */
  by?: string;
}

/** An agent away or offline for the workspace's `unavailableAfterSeconds` since leaving online: the reassignment hook. */
export interface UnavailableNotice {
  workspaceId: string;
  userId: string;
  status: Exclude<Status, 'online'>;
  /** When the agent left online. */
  since: number;
  /** The deadline: since + unavailableAfterSeconds. */
  at: number;
}

export interface PresenceView {
  userId: string;
  name: string;
  teams: string[];
  status: Status;
  since: number;
  lastActiveAt: number;
  /** While away with a reason: its id. */
  awayReason?: string;
  /** When an admin set the current status: who. */
  by?: string;
}

/** The outcome of applying one event: the next state, what it published, what it closed. */
export interface Decision {
  agent: Agent;
  /** False when nothing worth a write changed (most heartbeats). */
  changed: boolean;
  transitions: Transition[];
  /** Connections the store should forget (timed out, or closed by logout). */
  droppedConnections: string[];
  /** AgentUnavailable notices this write commits (at most one). */
  notices: UnavailableNotice[];
}

export function newAgent(identity: Identity, now: number): Agent {
  return {
    ...identity,
    teams: [...identity.teams],
    chosen: 'online',
    awayReason: null,
    status: 'offline',
    reason: null,
    since: now,
    lastActiveAt: now,
    connections: {},
    leaseUntil: 0,
    graceUntil: null,
    loggedOut: false,
    by: null,
    unavailableSince: null,
    unavailableNotified: false,
    version: 0,
  };
}

export function hasConnections(agent: Agent): boolean {
  return Object.keys(agent.connections).length > 0;
}

/** When the user stops counting as present if nothing else happens; -Infinity if not present at all. */
function presenceEnd(agent: Agent): number {
  if (agent.loggedOut) return -Infinity;
  if (hasConnections(agent)) return agent.leaseUntil;
  return agent.graceUntil ?? -Infinity;
}

/**
 * When the user goes idle if not active again. Activity from before changes of the timeout is
 * replayed through them in order: idle at the deadline in force if it passed before the next
 * change (readers saw it then), else under the next timeout, but never before that change
 * (readers saw the user present until then).
 */
export function idleDeadline(agent: Agent, policy: Policy): number {
  const active = agent.lastActiveAt;
  const changes = policy.idleTimeoutChanges ?? [];
  // Evaluated on every event (heartbeats too): a plain scan, no copies. Oldest first.
  let index = changes.findIndex((change) => change.at > active);
  if (index < 0) return active + policy.idleTimeoutMs;
  let deadline = active + changes[index]!.previousIdleTimeoutMs;
  for (; index < changes.length; index++) {
    const change = changes[index]!;
    if (deadline <= change.at) return deadline;
    deadline = Math.max(active + (changes[index + 1]?.previousIdleTimeoutMs ?? policy.idleTimeoutMs), change.at);
  }
  return deadline;
}

export interface Evaluation {
  status: Status;
  /** For offline: the reason it became offline and when. */
  reason: Reason | null;
  at: number;
}

/** The effective status at `now`, and for offline, which deadline passed first. */
export function evaluate(agent: Agent, now: number, policy: Policy): Evaluation {
  if (agent.loggedOut) return { status: 'offline', reason: 'logout', at: agent.since };
  const end = presenceEnd(agent);
  // Idle is latched: an idle-offline user stays offline until they are active again, even if
  // the workspace's idle timeout is raised meanwhile.
  const latchedIdle = agent.status === 'offline' && agent.reason === 'idle' && agent.lastActiveAt < agent.since;
  const idle = latchedIdle ? agent.since : idleDeadline(agent, policy);
  if (now >= end && end <= idle) {
    const reason: Reason = hasConnections(agent) ? 'timeout' : 'disconnect';
    return { status: 'offline', reason, at: end };
  }
  if (now >= idle) return { status: 'offline', reason: 'idle', at: idle };
  return { status: agent.chosen, reason: null, at: now };
}

/** What readers see at `now`: exact even when no sweep has run since a deadline passed. */
export function view(agent: Agent, now: number, policy: Policy): PresenceView {
  const evaluation = evaluate(agent, now, policy);
  const stale = evaluation.status !== agent.status;
  return {
    userId: agent.userId,
    name: agent.name,
    teams: agent.teams,
    status: evaluation.status,
    since: stale ? Math.max(agent.since, evaluation.at) : agent.since,
    lastActiveAt: agent.lastActiveAt,
    ...(evaluation.status === 'away' && agent.awayReason !== null ? { awayReason: agent.awayReason } : {}),
    ...(!stale && agent.by !== null ? { by: agent.by } : {}),
  };
}

/** When the current unavailable period's AgentUnavailable is due, or null (none counted, sent, or the hook is off). */
export function unavailableDeadline(agent: Agent, policy: Policy): number | null {
  if (agent.unavailableSince === null || agent.unavailableNotified || policy.unavailableAfterMs === undefined) return null;
  return agent.unavailableSince + policy.unavailableAfterMs;
}

/**
 * The earliest time at which the effective status changes with no further event, or null.
 * This is what the sweeper's deadline index holds; offline agents have none.
 */
export function nextDeadline(agent: Agent, policy: Policy): number | null {
  const unavailable = unavailableDeadline(agent, policy);
  if (agent.status === 'offline') return unavailable;
  return Math.min(presenceEnd(agent), idleDeadline(agent, policy), unavailable ?? Infinity);
}

/**
 * The version an agent item gets when a write with `transitions` changes commits over `version`:
 * one step per change (at least one per write), so each change has a version of its own.
 */
export function versionAfter(version: number, transitions: number): number {
  return version + Math.max(1, transitions);
}

/** API Gateway closes every connection after 2 hours: one older than that is dead, whatever the lease says. */
const CONNECTION_LIFETIME_MS = 2 * 3_600_000;

/**
 * Connections that count for the user at `now`: none once the lease has passed (they are all
 * dead), and none older than API Gateway's 2-hour lifetime (a `$disconnect` that never came).
 */
export function liveConnections(agent: Agent | undefined, now: number): number {
  if (!agent || agent.loggedOut || now >= agent.leaseUntil) return 0;
  return Object.values(agent.connections).filter((connectedAt) => now - connectedAt < CONNECTION_LIFETIME_MS).length;
}
