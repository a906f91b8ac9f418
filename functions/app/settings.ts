/** Workspace settings: the idle timeout and the time zone of report days. */
import { expire } from '#domain/presence.ts';
import { canonicalTimeZone, DEFAULT_TIMEZONE } from '#domain/timezone.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { ForbiddenError, InvalidMessageError } from '#app/errors.ts';
import { mutateAgent } from '#app/mutate.ts';
import type { Ports, WorkspaceSettings } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

/** Agents settled at once during a settings change (each is a read and maybe a write). */
const AGENTS_IN_FLIGHT = 8;

/** The settings as the API shows them: every value, defaults filled in. */
export interface SettingsView {
  idleTimeoutSeconds: number;
  timezone: string;
}

export async function getSettings(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<SettingsView> {
  return viewOf(ports, await ports.store.getSettings(workspaceId));
}

function viewOf(ports: Pick<Ports, 'config'>, settings: WorkspaceSettings | undefined): SettingsView {
  return {
    idleTimeoutSeconds: settings?.idleTimeoutSeconds ?? ports.config.defaultIdleTimeoutSeconds,
    timezone: settings?.timezone ?? DEFAULT_TIMEZONE,
  };
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
export async function putSettings(
  ports: Ports,
  principal: Principal,
  settings: { idleTimeoutSeconds?: number | undefined; timezone?: string | undefined },
): Promise<SettingsView> {
  if (principal.role !== 'admin') throw new ForbiddenError('only an admin of the workspace may change its settings');
  const { minIdleTimeoutSeconds: min, maxIdleTimeoutSeconds: max } = ports.config;
  const seconds = settings.idleTimeoutSeconds;
  if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < min || seconds > max)) {
    throw new InvalidMessageError(`idleTimeoutSeconds must be an integer from ${min} to ${max}`);
  }
  const timezone = settings.timezone === undefined ? undefined : canonicalTimeZone(settings.timezone);
  if (settings.timezone !== undefined && !timezone) {
    throw new InvalidMessageError(`timezone must be an IANA time zone name such as Europe/Madrid, not ${JSON.stringify(settings.timezone)}`);
  }
  const workspaceId = principal.workspaceId;
  const current = await ports.store.getSettings(workspaceId);
  const shown = viewOf(ports, current);
  const next = { idleTimeoutSeconds: seconds ?? shown.idleTimeoutSeconds, timezone: timezone ?? shown.timezone };
  const previous = shown.idleTimeoutSeconds;
  if (previous === next.idleTimeoutSeconds && shown.timezone === next.timezone) return next;
  const changes =
    previous === next.idleTimeoutSeconds
      ? current?.changes
      : [...(current?.changes ?? []), { previousIdleTimeoutSeconds: previous, changedAt: ports.clock.now() }].slice(-CHANGES_KEPT);
  await ports.store.putSettings(workspaceId, { ...next, ...(changes?.length ? { changes } : {}) });
  if (previous === next.idleTimeoutSeconds) return next;
  const present = (
    await Promise.all([ports.store.listByStatus(workspaceId, 'online'), ports.store.listByStatus(workspaceId, 'away')])
  ).flat();
  await forEachLimited(present, AGENTS_IN_FLIGHT, async (agent) => {
    // The agent and the settings are read afresh: the settings may have changed again since.
    await mutateAgent(ports, workspaceId, agent.userId, (stored, now, policy) => (stored ? expire(stored, now, policy) : null));
  });
  return next;
}
