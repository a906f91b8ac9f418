/**
 * A decision in the making: one event is applied to a copy of the stored agent, step by step
 * (expire what passed, attach, choose, re-derive), and every change it publishes is collected.
 */
import {
  type Agent,
  type ChosenStatus,
  type Decision,
  evaluate,
  hasConnections,
  type Identity,
  type Policy,
  type Reason,
  type Status,
  type Transition,
  type UnavailableNotice,
  unavailableDeadline,
} from '#domain/agent.ts';

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
export class Draft {
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

  /**
   * Expires the deadlines that passed before `now`: drops connections whose lease ended, ends a
   * passed grace, publishes the offline a deadline caused, and commits a due AgentUnavailable.
   */
  expireDeadlines(now: number, policy: Policy): void {
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
   * Re-derives the effective status after the event and publishes it with the event's reason; with
   * `awayReasonChanged`, an agent away before and after is published too (only the away reason changed).
   */
  publishEffectiveStatus(now: number, policy: Policy, reason: Reason, awayReasonChanged = false): void {
    const evaluation = evaluate(this.agent, now, policy);
    if (evaluation.status === this.agent.status && !(awayReasonChanged && evaluation.status === 'away')) return;
    if (evaluation.status === 'offline') {
      // Possible only with a zero grace or lease: the deadline is already here.
      this.expireDeadlines(now, policy);
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

  /** The name and teams come from the latest token: a change is written with the event. */
  refreshIdentity(identity: Identity): void {
    const agent = this.agent;
    if (agent.name !== identity.name || agent.teams.join('\u0000') !== identity.teams.join('\u0000')) {
      agent.name = identity.name;
      agent.teams = [...identity.teams];
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
