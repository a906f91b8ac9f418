/** Workspace settings: the idle timeout. */
import { changePolicy } from '#domain/presence.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { ForbiddenError, InvalidRequestError } from '#app/errors.ts';
import { deliver } from '#app/fanout.ts';
import { mutateAgent } from '#app/mutate.ts';
import { policyFrom, workspacePolicy } from '#app/policy.ts';
import type { Ports, WorkspaceSettings } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

/** Agents settled at once during a settings change (each is a read and maybe a write). */
const AGENTS_IN_FLIGHT = 8;

export async function getSettings(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<WorkspaceSettings> {
  const settings = await ports.store.getSettings(workspaceId);
  return { idleTimeoutSeconds: settings?.idleTimeoutSeconds ?? ports.config.defaultIdleTimeoutSeconds };
}

/**
 * Admins change the idle timeout. The settings keep the old timeout and the instant of the change,
 * so every path (this one, heartbeats, sweeps, readers) judges activity from before the change the
 * same way, however long it takes to reach every agent: what readers already saw is kept, and
 * anyone past only the new, shorter timeout goes idle at the change, not at a past instant.
 * Then each present agent is judged and written once, so its deadline moves at once and the
 * sweeper keeps reading only what is due.
 */
export async function putSettings(ports: Ports, principal: Principal, settings: WorkspaceSettings): Promise<WorkspaceSettings> {
  if (principal.role !== 'admin') throw new ForbiddenError('only an admin of the workspace may change its settings');
  const { minIdleTimeoutSeconds: min, maxIdleTimeoutSeconds: max } = ports.config;
  const seconds = settings.idleTimeoutSeconds;
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new InvalidRequestError(`idleTimeoutSeconds must be an integer from ${min} to ${max}`);
  }
  const workspaceId = principal.workspaceId;
  const before = await workspacePolicy(ports, workspaceId);
  const stored = { idleTimeoutSeconds: seconds, previousIdleTimeoutSeconds: before.idleTimeoutMs / 1000, changedAt: ports.clock.now() };
  await ports.store.putSettings(workspaceId, stored);
  const after = policyFrom(ports.config, stored);
  const next = { idleTimeoutSeconds: seconds };
  const present = (
    await Promise.all([ports.store.listByStatus(workspaceId, 'online'), ports.store.listByStatus(workspaceId, 'away')])
  ).flat();
  await forEachLimited(present, AGENTS_IN_FLIGHT, async (agent) => {
    const { decision, written } = await mutateAgent(
      ports,
      workspaceId,
      agent.userId,
      (stored, now) => (stored ? changePolicy(stored, now, before, after) : null),
      { agent, policy: after },
    );
    if (written && decision && decision.transitions.length > 0) await deliver(ports, workspaceId, decision.transitions);
  });
  return next;
}
