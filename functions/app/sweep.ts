/** The sweeper: one pass over every deadline shard, committing the transitions that are due (the stream delivers them). */
import { idleDeadline, nextDeadline, type Policy } from '#domain/agent.ts';
import * as decide from '#domain/decisions.ts';
import { AGENTS_IN_FLIGHT, forEachLimited } from '#app/concurrency.ts';
import { mutateAgent } from '#app/mutate.ts';
import { workspacePolicy } from '#app/policy.ts';
import type { Ports, StoredAgent } from '#app/ports.ts';

export interface SweepReport {
  /** Index items read. */
  read: number;
  transitions: number;
  /** Due items that needed no transition (another writer won, or only the deadline moved). */
  rescheduled: number;
}

export interface SweepOptions {
  /**
   * Also take agents due within this many ms after the pass starts, and expire each at its
   * deadline (`waitUntil`), so a deadline is published when it passes rather than at the next
   * pass: with passes every interval and this set to the interval, detection takes milliseconds
   * instead of up to a whole interval. 0 (default): only what is already due.
   */
  lookAheadMs?: number;
  /** Resolves once the clock has reached `at` (earlier only when stopping); required with lookAheadMs. */
  waitUntil?: (at: number) => Promise<void>;
}

export async function sweep(ports: Ports, options: SweepOptions = {}): Promise<SweepReport> {
  const startedAt = ports.clock.now();
  const lookAheadMs = options.waitUntil ? (options.lookAheadMs ?? 0) : 0;
  const report: SweepReport = { read: 0, transitions: 0, rescheduled: 0 };
  const policies = new Map<string, Promise<Policy>>();
  const policyOf = (workspaceId: string) => {
    let policy = policies.get(workspaceId);
    if (!policy) {
      policy = workspacePolicy(ports, workspaceId);
      policies.set(workspaceId, policy);
    }
    return policy;
  };
  // An agent read from the deadline index has a deadline; the fallback only satisfies the type.
  const dueOf = (candidate: StoredAgent) => candidate.dueAt ?? startedAt;
  const upcoming: StoredAgent[] = [];
  for (let shard = 0; shard < ports.store.deadlineShards; shard++) {
    for await (const page of ports.store.dueAgents(shard, startedAt + lookAheadMs)) {
      report.read += page.length;
      const due = page.filter((candidate) => dueOf(candidate) <= startedAt);
      upcoming.push(...page.filter((candidate) => dueOf(candidate) > startedAt));
      await forEachLimited(due, AGENTS_IN_FLIGHT, async (candidate) => {
        await expireAgent(ports, candidate, await policyOf(candidate.workspaceId), report);
      });
    }
  }
  // Each at its deadline, earliest first. The item read now decides then: if a heartbeat renewed
  // it meanwhile, the version condition fails and the re-read finds nothing due.
  upcoming.sort((a, b) => dueOf(a) - dueOf(b));
  await forEachLimited(upcoming, AGENTS_IN_FLIGHT, async (candidate) => {
    await options.waitUntil!(dueOf(candidate));
    // A wait that ended early (the host is stopping) expires nothing: the next pass will.
    if (ports.clock.now() < dueOf(candidate)) return;
    // An idle deadline is read against the settings as they are now: the idle timeout may have
    // changed while this pass waited (a deadline already past when the pass read the settings
    // cannot be moved by a later change, so due agents need no second read). Leases and the
    // reconnect grace do not depend on the settings.
    const cached = await policyOf(candidate.workspaceId);
    const idleIsDue = idleDeadline(candidate, cached) === nextDeadline(candidate, cached);
    const policy = idleIsDue ? await workspacePolicy(ports, candidate.workspaceId) : cached;
    await expireAgent(ports, candidate, policy, report);
  });
  return report;
}

async function expireAgent(ports: Ports, candidate: StoredAgent, policy: Policy, report: SweepReport): Promise<void> {
  try {
    const { decision, written } = await mutateAgent(
      ports,
      candidate.workspaceId,
      candidate.userId,
      (stored, now, current) => (stored ? decide.expire(stored, { now }, current) : null),
      { agent: candidate, policy },
    );
    if (!written || !decision) return;
    if (decision.transitions.length === 0) {
      report.rescheduled++;
      return;
    }
    report.transitions += decision.transitions.length;
  } catch (error) {
    // One agent's failure must not stop the pass; its deadline stays in the index for the next one.
    ports.logger.error('sweeping an agent failed', { workspaceId: candidate.workspaceId, userId: candidate.userId, error });
  }
}
