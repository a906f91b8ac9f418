/** Read, decide, conditionally write: the one way agent state changes. */
import { type Decision, nextDeadline, type Policy } from '#domain/agent.ts';
import { ContentionError } from '#app/errors.ts';
import type { Ports, StoredAgent } from '#app/ports.ts';
import { policyFrom } from '#app/policy.ts';

const MAX_ATTEMPTS = 8;

/**
 * Between lost races: a short random pause (full jitter, 5 ms doubling), so writers that collided
 * (ten tabs opening at once) spread out instead of colliding again. Real time, not the clock
 * port: it paces I/O and decides nothing.
 */
function pause(attempt: number): Promise<void> {
  const ms = Math.random() * 5 * 2 ** attempt;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readAgentAndPolicy(
  ports: Pick<Ports, 'store' | 'config'>,
  workspaceId: string,
  userId: string,
): Promise<[StoredAgent | undefined, Policy]> {
  const { agent, settings } = await ports.store.getAgentWithSettings(workspaceId, userId);
  return [agent, policyFrom(ports.config, settings)];
}

export type Decide = (stored: StoredAgent | undefined, now: number, policy: Policy) => Decision | null;

export interface Mutation {
  stored: StoredAgent | undefined;
  decision: Decision | null;
  written: boolean;
}

/**
 * Applies `decide` to the agent and writes the result only if nobody wrote in between (version
 * condition), re-reading and deciding again otherwise. So of two writers racing on the same
 * transition (two sweepers, a sweeper and a heartbeat, two tabs) exactly one publishes it.
 */
export async function mutateAgent(
  ports: Pick<Ports, 'store' | 'clock' | 'config'>,
  workspaceId: string,
  userId: string,
  decide: Decide,
  first?: { agent: StoredAgent; policy: Policy },
): Promise<Mutation> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) await pause(attempt);
    // After a lost race the settings are read again too: a timeout change made meanwhile wins.
    const [stored, policy] =
      attempt === 0 && first ? [first.agent, first.policy] : await readAgentAndPolicy(ports, workspaceId, userId);
    const now = ports.clock.now();
    const decision = decide(stored, now, policy);
    if (!decision) return { stored, decision, written: false };
    const dueAt = nextDeadline(decision.agent, policy);
    // Also rewrite when only the deadline moved (the idle timeout changed): the index must be right.
    const deadlineMoved = stored !== undefined && stored.dueAt !== dueAt;
    if (!decision.changed && !deadlineMoved) return { stored, decision, written: false };
    if (await ports.store.saveAgent(decision.agent, dueAt, now, decision.transitions, decision.notices)) return { stored, decision, written: true };
  }
  throw new ContentionError(`too many concurrent updates of agent ${userId}; try again`);
}
