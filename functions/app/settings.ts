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
 * Admins change the idle timeout. Each present agent is settled under the old timeout, so what
 * readers already saw (someone idle-offline, a lease that ended) is published as it was and stays
 * latched, and then judged under the new one, in one write: deadlines move with the new timeout at
 * once, so the sweeper keeps reading only what is due, and anyone past it goes idle now.
 */
export async function putSettings(ports: Ports, principal: Principal, settings: WorkspaceSettings): Promise<WorkspaceSettings> {
  if (principal.role !== 'admin') throw new ForbiddenError('only an admin of the workspace may change its settings');
  const { minIdleTimeoutSeconds: min, maxIdleTimeoutSeconds: max } = ports.config;
  const seconds = settings.idleTimeoutSeconds;
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new InvalidRequestError(`idleTimeoutSeconds must be an integer from ${min} to ${max}`);
  }
  const workspaceId = principal.workspaceId;
  const next = { idleTimeoutSeconds: seconds };
  const before = await workspacePolicy(ports, workspaceId);
  await ports.store.putSettings(workspaceId, next);
  const after = policyFrom(ports.config, next);
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
