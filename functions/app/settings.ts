/** Workspace settings: the idle timeout. */
import { expire, type Policy } from '#domain/presence.ts';
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
 * Admins change the idle timeout. First every present agent is settled under the old timeout, so
 * what readers already saw (someone idle-offline, a lease that ended) is published as it was and
 * stays latched; then the deadlines move with the new timeout at once, so the sweeper keeps
 * reading only what is due, and anyone already past the new timeout goes idle now.
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
  await settlePresent(ports, workspaceId, await workspacePolicy(ports, workspaceId));
  await ports.store.putSettings(workspaceId, next);
  await settlePresent(ports, workspaceId, policyFrom(ports.config, next));
  return next;
}

/** Applies `policy` to every online or away agent of the workspace and publishes what it changes. */
async function settlePresent(ports: Ports, workspaceId: string, policy: Policy): Promise<void> {
  const present = (
    await Promise.all([ports.store.listByStatus(workspaceId, 'online'), ports.store.listByStatus(workspaceId, 'away')])
  ).flat();
  await forEachLimited(present, AGENTS_IN_FLIGHT, async (agent) => {
    const { decision, written } = await mutateAgent(
      ports,
      workspaceId,
      agent.userId,
      (stored, now) => (stored ? expire(stored, now, policy) : null),
      { agent, policy },
    );
    if (written && decision && decision.transitions.length > 0) await deliver(ports, workspaceId, decision.transitions);
  });
}
