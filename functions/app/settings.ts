/** Workspace settings: the idle timeout. */
import { expire } from '#domain/presence.ts';
import { ForbiddenError, InvalidRequestError } from '#app/errors.ts';
import { deliver } from '#app/fanout.ts';
import { mutateAgent } from '#app/mutate.ts';
import { policyFrom } from '#app/policy.ts';
import type { Ports, WorkspaceSettings } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

export async function getSettings(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<WorkspaceSettings> {
  const settings = await ports.store.getSettings(workspaceId);
  return { idleTimeoutSeconds: settings?.idleTimeoutSeconds ?? ports.config.defaultIdleTimeoutSeconds };
}

/**
 * Admins change the idle timeout. The deadlines of present agents move with it at once, so the
 * sweeper keeps reading only what is due; anyone already past the new timeout goes idle now.
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
  await ports.store.putSettings(workspaceId, next);
  const policy = policyFrom(ports.config, next);
  const present = (
    await Promise.all([ports.store.listByStatus(workspaceId, 'online'), ports.store.listByStatus(workspaceId, 'away')])
  ).flat();
  for (const agent of present) {
    const { decision, written } = await mutateAgent(
      ports,
      workspaceId,
      agent.userId,
      (stored, now, current) => (stored ? expire(stored, now, current) : null),
      { agent, policy },
    );
    if (written && decision && decision.transitions.length > 0) {
      await ports.store.deleteConnections(workspaceId, decision.droppedConnections);
      await deliver(ports, workspaceId, decision.transitions);
    }
  }
  return next;
}
