/**
 * Pure presence rules: effective status, transitions with their reasons, deadlines.
 * No I/O and no clock: every function takes `now` (epoch milliseconds).
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

function hasConnections(agent: Agent): boolean {
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

interface Evaluation {
  status: Status;
  /** For offline: the reason it became offline and when. */
  reason: Reason | null;
  at: number;
}

/** The effective status at `now`, and for offline, which deadline passed first. */
function evaluate(agent: Agent, now: number, policy: Policy): Evaluation {
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
function unavailableDeadline(agent: Agent, policy: Policy): number | null {
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

/** The next change of a draft over `agent` (as stored, so its version is the stored one). */
function transition(agent: Agent, previous: Status, previousAwayReason: string | null, reason: Reason, at: number, index: number): Transition {
  const change: Transition = {
    version: agent.version + 1 + index,
    workspaceId: agent.workspaceId,
    userId: agent.userId,
    name: agent.name,
    teams: agent.teams,
    status: agent.status,
    previous,
    reason,
    at,
  };
  if (agent.status === 'away' && agent.awayReason !== null) change.awayReason = agent.awayReason;
  if (previous === 'away' && previousAwayReason !== null) change.previousAwayReason = previousAwayReason;
  if (agent.by !== null) change.by = agent.by;
  return change;
}

function clone(agent: Agent): Agent {
  return { ...agent, teams: [...agent.teams], connections: { ...agent.connections } };
}

/** A draft decision that accumulates changes while one event is applied. */
class Draft {
  readonly agent: Agent;
  changed = false;
  readonly transitions: Transition[] = [];
  readonly droppedConnections: string[] = [];
  readonly notices: UnavailableNotice[] = [];
  /** The away reason readers were last told (while away, the stored choice is always the published one). */
  private publishedAwayReason: string | null;

  constructor(
    stored: Agent,
    /** The admin acting, for an admin's event: the changes it publishes carry their id. */
    private readonly by: string | null = null,
  ) {
    this.agent = clone(stored);
    this.publishedAwayReason = stored.status === 'away' ? stored.awayReason : null;
  }

  /** Publishes the deadline that passed before this event, if the stored status is stale. */
  settleDeadlines(now: number, policy: Policy): void {
    const agent = this.agent;
    const evaluation = evaluate(agent, now, policy);
    if (evaluation.status === 'offline' && hasConnections(agent) && now >= agent.leaseUntil) {
      // The lease passed: every connection we knew is dead.
      this.droppedConnections.push(...Object.keys(agent.connections));
      agent.connections = {};
      agent.leaseUntil = 0;
      this.changed = true;
    }
    if (agent.graceUntil !== null && now >= agent.graceUntil) {
      agent.graceUntil = null;
      this.changed = true;
    }
    if (evaluation.status === 'offline' && agent.status !== 'offline' && evaluation.reason) {
      // A deadline is the service's doing, whoever's event found it passed.
      this.publish('offline', evaluation.reason, Math.max(agent.since, evaluation.at), policy, null);
    }
    this.notifyUnavailable(now, policy);
  }

  /** Commits the period's AgentUnavailable once its deadline has passed (the sweeper's job; any writer that finds it due does it). */
  private notifyUnavailable(now: number, policy: Policy): void {
    const agent = this.agent;
    if (policy.unavailableAfterMs === undefined && agent.unavailableSince !== null) {
      // The hook was turned off: the period is not counted, and turning it on again starts afresh.
      agent.unavailableSince = null;
      agent.unavailableNotified = false;
      this.changed = true;
      return;
    }
    const due = unavailableDeadline(agent, policy);
    if (due === null || now < due || agent.status === 'online' || agent.unavailableSince === null) return;
    agent.unavailableNotified = true;
    this.changed = true;
    this.notices.push({ workspaceId: agent.workspaceId, userId: agent.userId, status: agent.status, since: agent.unavailableSince, at: due });
  }

  /**
   * Re-derives the status after the event and publishes it with the event's reason; with
   * `reasonChanged`, an agent away before and after is published too (only the away reason changed).
   */
  settleEvent(now: number, policy: Policy, reason: Reason, reasonChanged = false): void {
    const evaluation = evaluate(this.agent, now, policy);
    if (evaluation.status === this.agent.status && !(reasonChanged && evaluation.status === 'away')) return;
    if (evaluation.status === 'offline') {
      // Possible only with a zero grace or lease: the deadline is already here.
      this.settleDeadlines(now, policy);
      return;
    }
    this.publish(evaluation.status, reason, now, policy, this.by);
  }

  /**
   * A user offline for another reason (timeout, disconnect) who is present again but idle is now
   * idle-offline, and latched like any idle: raising the timeout later must not bring them back
   * unseen. Nothing is published (offline stays offline); the reason is what the latch reads.
   */
  latchIdle(now: number, policy: Policy): void {
    const agent = this.agent;
    if (agent.status !== 'offline' || agent.reason === 'idle') return;
    const evaluation = evaluate(agent, now, policy);
    if (evaluation.status === 'offline' && evaluation.reason === 'idle') {
      agent.reason = 'idle';
      // The latch holds while the last activity is before `since`. Only a zero grace can put
      // them in the same millisecond (a close right after the last activity): 1 ms later keeps it.
      if (agent.lastActiveAt >= agent.since) agent.since = agent.lastActiveAt + 1;
      this.changed = true;
    }
  }

  publish(status: Status, reason: Reason, at: number, policy: Policy, by: string | null): void {
    const agent = this.agent;
    const previous = agent.status;
    agent.status = status;
    agent.reason = reason;
    agent.since = at;
    agent.by = by;
    if (status === 'online') {
      agent.unavailableSince = null;
      agent.unavailableNotified = false;
    } else if (previous === 'online') {
      // A period away from online begins; counted only while the hook is on.
      agent.unavailableSince = policy.unavailableAfterMs === undefined ? null : at;
      agent.unavailableNotified = false;
    }
    this.changed = true;
    this.transitions.push(transition(agent, previous, this.publishedAwayReason, reason, at, this.transitions.length));
    this.publishedAwayReason = status === 'away' ? agent.awayReason : null;
  }

  /** Sets the agent's choice; true when the away reason changed (a change readers see even if the status does not). */
  choose(chosen: ChosenStatus, awayReason: string | null): boolean {
    const agent = this.agent;
    const reason = chosen === 'away' ? awayReason : null;
    const reasonChanged = agent.awayReason !== reason;
    if (agent.chosen !== chosen || reasonChanged) {
      agent.chosen = chosen;
      agent.awayReason = reason;
      this.changed = true;
    }
    return reasonChanged;
  }

  /** Marks the connection live; returns true when it was not known before. */
  attach(connectionId: string, connectedAt: number, now: number, policy: Policy): boolean {
    const agent = this.agent;
    const known = connectionId in agent.connections;
    if (!known) {
      agent.connections[connectionId] = connectedAt;
      agent.leaseUntil = now + policy.leaseMs;
      this.changed = true;
    }
    if (agent.graceUntil !== null) {
      agent.graceUntil = null;
      this.changed = true;
    }
    if (agent.loggedOut) {
      agent.loggedOut = false;
      this.changed = true;
    }
    return !known;
  }

  /**
   * Renews the lease once half of it is used: with a 30 s heartbeat and a 90 s lease that is one
   * write per minute instead of two, and a connection still survives a 45 s gap between beats.
   */
  renewLease(now: number, policy: Policy): void {
    if (this.agent.leaseUntil - now < policy.leaseMs / 2) {
      this.agent.leaseUntil = now + policy.leaseMs;
      this.changed = true;
    }
  }

  /**
   * Records activity. Within a small granularity it is not written (it would cost a write per
   * heartbeat); the idle deadline is then early by at most that granularity, never late.
   */
  markActive(now: number, policy: Policy, force: boolean): void {
    if (now <= this.agent.lastActiveAt) return;
    // When something else is written anyway, the activity rides along for free.
    if (force || this.changed || now - this.agent.lastActiveAt >= activityGranularityMs(policy)) {
      this.agent.lastActiveAt = now;
      this.changed = true;
    }
  }

  decision(): Decision {
    return {
      agent: this.agent,
      changed: this.changed,
      transitions: this.transitions,
      // A connection given up on and revived by this very event is live again.
      droppedConnections: this.droppedConnections.filter((id) => !(id in this.agent.connections)),
      notices: this.notices,
    };
  }
}

function activityGranularityMs(policy: Policy): number {
  return Math.min(60_000, Math.floor(policy.idleTimeoutMs / 10));
}

function refreshIdentity(draft: Draft, identity: Identity): void {
  const agent = draft.agent;
  if (agent.name !== identity.name || agent.teams.join('\u0000') !== identity.teams.join('\u0000')) {
    agent.name = identity.name;
    agent.teams = [...identity.teams];
    draft.changed = true;
  }
}

/** A connection opened (`$connect`). Connecting counts as activity and ends a logout. */
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

export function connect(
  stored: Agent | undefined,
  identity: Identity,
  connectionId: string,
  connectedAt: number,
  now: number,
  policy: Policy,
): Decision {
  const draft = new Draft(stored ?? newAgent(identity, now));
  if (!stored) draft.changed = true;
  draft.settleDeadlines(now, policy);
  refreshIdentity(draft, identity);
  draft.attach(connectionId, connectedAt, now, policy);
  draft.agent.leaseUntil = now + policy.leaseMs;
  draft.markActive(now, policy, true);
  draft.changed = true;
  draft.settleEvent(now, policy, 'connect');
  return draft.decision();
}

/**
 * Connections closed (`$disconnect`, or the gateway reported them gone). Several at once when other tabs closed too: the first writer then takes
 * them all, and the others' disconnects find nothing left to write.
 */
export function disconnect(stored: Agent, closed: string | readonly string[], now: number, policy: Policy): Decision {
  const draft = new Draft(stored);
  draft.settleDeadlines(now, policy);
  const agent = draft.agent;
  const present = (typeof closed === 'string' ? [closed] : closed).filter((id) => id in agent.connections);
  if (present.length > 0) {
    for (const id of present) delete agent.connections[id];
    draft.changed = true;
    if (!hasConnections(agent)) {
      agent.leaseUntil = 0;
      agent.graceUntil = now + policy.graceMs;
    }
    draft.settleDeadlines(now, policy);
  }
  return draft.decision();
}

/**
 * A message arrived on a connection: a heartbeat, or a `setStatus` (which counts as activity).
 * A message from a connection we had given up on (its lease passed) proves it is alive again.
 */
function touch(
  stored: Agent,
  identity: Identity,
  connectionId: string,
  connectedAt: number,
  active: boolean,
  now: number,
  policy: Policy,
): { draft: Draft; revived: boolean } | null {
  if (stored.loggedOut) return null; // the connection was closed by logout; nothing it says counts
  const draft = new Draft(stored);
  draft.settleDeadlines(now, policy);
  refreshIdentity(draft, identity);
  const revived = draft.attach(connectionId, connectedAt, now, policy);
  draft.renewLease(now, policy);
  if (active) {
    const wasIdle = evaluate(draft.agent, now, policy).status === 'offline';
    draft.markActive(now, policy, wasIdle);
  }
  return { draft, revived };
}

export function heartbeat(
  stored: Agent | undefined,
  identity: Identity,
  connectionId: string,
  connectedAt: number,
  active: boolean,
  now: number,
  policy: Policy,
): Decision {
  if (!stored) return connect(undefined, identity, connectionId, connectedAt, now, policy);
  const touched = touch(stored, identity, connectionId, connectedAt, active, now, policy);
  if (!touched) return unchanged(stored);
  // Back from offline on a connection we had given up on is a (re)connect; on a known one, activity.
  touched.draft.settleEvent(now, policy, touched.revived ? 'connect' : 'active');
  touched.draft.latchIdle(now, policy);
  return touched.draft.decision();
}

export function setStatus(
  stored: Agent | undefined,
  identity: Identity,
  connectionId: string,
  connectedAt: number,
  chosen: ChosenStatus,
  now: number,
  policy: Policy,
  awayReason: string | null = null,
): Decision {
  const touched = touch(stored ?? newAgent(identity, now), identity, connectionId, connectedAt, true, now, policy);
  if (!touched) return unchanged(stored ?? newAgent(identity, now));
  const draft = touched.draft;
  if (!stored) draft.changed = true;
  const reasonChanged = draft.choose(chosen, awayReason);
  // A deliberate choice is activity worth recording exactly (it is rare, unlike heartbeats).
  draft.markActive(now, policy, true);
  draft.settleEvent(now, policy, 'manual', reasonChanged);
  return draft.decision();
}

/**
 * An admin sets the agent's choice. Present: published now with reason `admin` and `by`; offline:
 * only stored, and it comes back when they do. Not the agent's activity: nothing else moves.
 */
export function adminSetStatus(stored: Agent, chosen: ChosenStatus, awayReason: string | null, by: string, now: number, policy: Policy): Decision {
  const draft = new Draft(stored, by);
  draft.settleDeadlines(now, policy);
  const reasonChanged = draft.choose(chosen, awayReason);
  draft.settleEvent(now, policy, 'admin', reasonChanged);
  return draft.decision();
}

/**
 * An away reason the workspace no longer has is dropped from the agent's choice; an agent away
 * with it now is published away with no reason, by the admin who removed it.
 */
export function dropAwayReason(stored: Agent, removed: ReadonlySet<string>, by: string, now: number, policy: Policy): Decision | null {
  if (stored.awayReason === null || !removed.has(stored.awayReason)) return null;
  const draft = new Draft(stored, by);
  draft.settleDeadlines(now, policy);
  const reasonChanged = draft.choose(draft.agent.chosen, null);
  draft.settleEvent(now, policy, 'admin', reasonChanged);
  return draft.decision();
}

/** The user logs out everywhere (or an admin, `by`, signs them out): offline now, connections closed, the choice kept. */
export function logout(stored: Agent, now: number, policy: Policy, by: string | null = null): Decision {
  const draft = new Draft(stored);
  draft.settleDeadlines(now, policy);
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
export function expire(stored: Agent, now: number, policy: Policy): Decision {
  const draft = new Draft(stored);
  draft.settleDeadlines(now, policy);
  return draft.decision();
}

function unchanged(agent: Agent): Decision {
  return { agent, changed: false, transitions: [], droppedConnections: [], notices: [] };
}
