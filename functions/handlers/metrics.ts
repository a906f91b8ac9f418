/**
 * Powertools metrics for the Lambda entries. The ports are wrapped, so the use cases and the local
 * stack know nothing about CloudWatch; the Lambda entries' logMetrics publishes what was recorded after each invocation.
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ConnectionGoneError, FanoutDispatchError } from '#app/errors.ts';
import type { ConnectionGateway, EventPublisher, FanoutDispatcher, Ports, PresenceStore } from '#app/ports.ts';
import { DECISION_TIMED_REASONS, METRICS, REASON_DIMENSION } from '#handlers/metric-names.ts';
import { isAuthorizerRefusal } from '#handlers/authorizer-refusal.ts';

type Now = () => number;

function isPresenceMessage(message: unknown): message is { type: 'presence'; changes: Array<{ reason: string; at: number }> } {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'presence';
}

export function measuredGateway(gateway: ConnectionGateway, metrics: Metrics, now: Now = () => Date.now()): ConnectionGateway {
  return {
    async post(connectionId, message) {
      try {
        await gateway.post(connectionId, message);
      } catch (error) {
        // A gone connection is normal churn; anything else is a fan-out failure worth an alarm.
        if (isPresenceMessage(message) && !(error instanceof ConnectionGoneError)) {
          metrics.addMetric(METRICS.fanoutFailures, MetricUnit.Count, 1);
        }
        throw error;
      }
      if (isPresenceMessage(message)) {
        // From each user-driven change's commit to the post that carried it (commit to subscriber).
        for (const change of message.changes) {
          if (DECISION_TIMED_REASONS.includes(change.reason)) {
            metrics.addMetric(METRICS.fanoutLatency, MetricUnit.Milliseconds, Math.max(0, now() - change.at));
          }
        }
      }
    },
    delete: (connectionId) => gateway.delete(connectionId),
  };
}

/** A chunk that failed after its invocation may have started is not reposted: its connections count as failures. */
function measuredFanout(fanout: FanoutDispatcher, metrics: Metrics): FanoutDispatcher {
  return {
    async post(chunk) {
      try {
        return await fanout.post(chunk);
      } catch (error) {
        if (!(error instanceof FanoutDispatchError) || error.maybePosted) {
          metrics.addMetric(METRICS.fanoutFailures, MetricUnit.Count, chunk.connections.length);
        }
        throw error;
      }
    },
  };
}

function measuredEvents(events: EventPublisher, metrics: Metrics): EventPublisher {
  return {
    async publish(changes) {
      // Every committed transition is published once per delivery (a retried batch publishes again).
      const byReason = new Map<string, number>();
      for (const change of changes) byReason.set(change.reason, (byReason.get(change.reason) ?? 0) + 1);
      for (const [reason, count] of byReason) {
        const single = metrics.singleMetric();
        single.addDimension(REASON_DIMENSION, reason);
        single.addMetric(METRICS.transitions, MetricUnit.Count, count);
      }
      try {
        await events.publish(changes);
      } catch (error) {
        metrics.addMetric(METRICS.eventPublishFailures, MetricUnit.Count, changes.length);
        throw error;
      }
    },
    async publishUnavailable(notices) {
      try {
        await events.publishUnavailable(notices);
      } catch (error) {
        metrics.addMetric(METRICS.eventPublishFailures, MetricUnit.Count, notices.length);
        throw error;
      }
    },
  };
}

function measuredStore(store: PresenceStore, metrics: Metrics, now: Now): PresenceStore {
  return {
    get deadlineShards() {
      return store.deadlineShards;
    },
    getAgentWithSettings: (...args) => store.getAgentWithSettings(...args),
    saveAgent: (...args) => store.saveAgent(...args),
    listAgents: (...args) => store.listAgents(...args),
    getAgents: (...args) => store.getAgents(...args),
    putMemberships: (...args) => store.putMemberships(...args),
    deleteMemberships: (...args) => store.deleteMemberships(...args),
    listTeamMembers: (...args) => store.listTeamMembers(...args),
    listByStatus: (...args) => store.listByStatus(...args),
    async *dueAgents(shard, until) {
      for await (const page of store.dueAgents(shard, until)) {
        // Against the clock, not the query's bound: a look-ahead pass also reads agents not yet due.
        const current = now();
        const earliest = page.reduce((min, agent) => Math.min(min, agent.dueAt ?? current), current);
        metrics.addMetric(METRICS.sweepLag, MetricUnit.Milliseconds, current - earliest);
        yield page;
      }
    },
    putConnection: (...args) => store.putConnection(...args),
    setScope: (...args) => store.setScope(...args),
    deleteConnections: (...args) => store.deleteConnections(...args),
    listConnections: (...args) => store.listConnections(...args),
    listAudience: (...args) => store.listAudience(...args),
    listUserConnections: (...args) => store.listUserConnections(...args),
    getConnection: (...args) => store.getConnection(...args),
    existingConnections: (...args) => store.existingConnections(...args),
    getSettings: (...args) => store.getSettings(...args),
    putSettings: (...args) => store.putSettings(...args),
    recordHistory: (...args) => store.recordHistory(...args),
    getRollup: (...args) => store.getRollup(...args),
    putRollup: (...args) => store.putRollup(...args),
    listRollups: (...args) => store.listRollups(...args),
    listHistory: (...args) => store.listHistory(...args),
    lastHistoryBefore: (...args) => store.lastHistoryBefore(...args),
  };
}

/** The same ports, recording transitions, fan-out latency and failures, publish failures and sweep lag. */
export function measuredPorts(ports: Ports, metrics: Metrics, now: Now = () => Date.now()): Ports {
  return {
    ...ports,
    store: measuredStore(ports.store, metrics, now),
    fanout: ports.fanout && measuredFanout(ports.fanout, metrics),
    gateway: measuredGateway(ports.gateway, metrics, now),
    events: measuredEvents(ports.events, metrics),
  };
}

/** Counts the authorizer's outcome: a refused token (thrown `Unauthorized`) is not an error of ours. */
export function measuredAuthorizer<A extends unknown[], R>(
  handler: (...args: A) => Promise<R>,
  metrics: Metrics,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      const refused = isAuthorizerRefusal(error);
      metrics.addMetric(refused ? METRICS.tokensRefused : METRICS.authorizerErrors, MetricUnit.Count, 1);
      throw error;
    }
  };
}

