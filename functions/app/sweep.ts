/** The sweeper: one pass over every deadline shard, publishing the transitions that are due. */
import { expire, type Policy } from '#domain/presence.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { deliver } from '#app/fanout.ts';
import { mutateAgent } from '#app/mutate.ts';
import { workspacePolicy } from '#app/policy.ts';
import type { Ports, StoredAgent } from '#app/ports.ts';

const AGENTS_IN_FLIGHT = 8;

export interface SweepReport {
  /** Index items read. */
  read: number;
  transitions: number;
  /** Due items that needed no transition (another writer won, or only the deadline moved). */
  rescheduled: number;
}

export async function sweep(ports: Ports): Promise<SweepReport> {
  const startedAt = ports.clock.now();
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
  for (let shard = 0; shard < ports.store.deadlineShards; shard++) {
    for await (const page of ports.store.dueAgents(shard, startedAt)) {
      report.read += page.length;
      await forEachLimited(page, AGENTS_IN_FLIGHT, async (candidate) => {
        await settleAgent(ports, candidate, await policyOf(candidate.workspaceId), report);
      });
    }
  }
  return report;
}

async function settleAgent(ports: Ports, candidate: StoredAgent, policy: Policy, report: SweepReport): Promise<void> {
  try {
    const { decision, written } = await mutateAgent(
      ports,
      candidate.workspaceId,
      candidate.userId,
      (stored, now, current) => (stored ? expire(stored, now, current) : null),
      { agent: candidate, policy },
    );
    if (!written || !decision) return;
    if (decision.transitions.length === 0) {
      report.rescheduled++;
      return;
    }
    report.transitions += decision.transitions.length;
    // Connections whose lease passed keep their items until a post answers 410 (see settle() in
    // presence.ts): a logout must still reach a tab that is only slow.
    await deliver(ports, candidate.workspaceId, decision.transitions);
  } catch (error) {
    // One agent's failure must not stop the pass; its deadline stays in the index for the next one.
    ports.logger.error('sweeping an agent failed', { workspaceId: candidate.workspaceId, userId: candidate.userId, error });
  }
}
