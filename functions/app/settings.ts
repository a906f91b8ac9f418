/** Workspace settings: the idle timeout. */
import { expire } from '#domain/presence.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { ForbiddenError, InvalidRequestError } from '#app/errors.ts';
import { mutateAgent } from '#app/mutate.ts';
import type { Ports, WorkspaceSettings } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

/** Agents settled at once during a settings change (each is a read and maybe a write). */
const AGENTS_IN_FLIGHT = 8;

export async function getSettings(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<WorkspaceSettings> {
  const settings = await ports.store.getSettings(workspaceId);
  return { idleTimeoutSeconds: settings?.idleTimeoutSeconds ?? ports.config.defaultIdleTimeoutSeconds };
}

/** Changes kept in the settings for judging older activity (idleDeadline); older ones are dropped. */
const CHANGES_KEPT = 10;

/**
 * Admins change the idle timeout. The settings keep the recent changes (the timeout before each
 * and its instant), so every path (heartbeats, sweeps, readers, this rollout) judges activity
 * from before them alike, however long the rollout takes and however close two changes come:
 * what readers already saw is kept, and anyone past only a new, shorter timeout goes idle at its
 * change, not at a past instant. Saving the value in force changes nothing. Then each present
 * agent is judged under the settings as they are when it is written (a later change wins) and
 * written once, so its deadline moves at once and the sweeper keeps reading only what is due.
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
  const current = await ports.store.getSettings(workspaceId);
  const previous = current?.idleTimeoutSeconds ?? ports.config.defaultIdleTimeoutSeconds;
  if (previous === seconds) return next;
  const change = { previousIdleTimeoutSeconds: previous, changedAt: ports.clock.now() };
  await ports.store.putSettings(workspaceId, { ...next, changes: [...(current?.changes ?? []), change].slice(-CHANGES_KEPT) });
  const present = (
    await Promise.all([ports.store.listByStatus(workspaceId, 'online'), ports.store.listByStatus(workspaceId, 'away')])
  ).flat();
  await forEachLimited(present, AGENTS_IN_FLIGHT, async (agent) => {
    // The agent and the settings are read afresh: the settings may have changed again since.
    await mutateAgent(ports, workspaceId, agent.userId, (stored, now, policy) => (stored ? expire(stored, now, policy) : null));
  });
  return next;
}
