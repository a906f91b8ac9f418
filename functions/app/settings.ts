/** Workspace settings: the idle timeout, the time zone of report days, away reasons and the reassignment hook. */
import * as decide from '#domain/decisions.ts';
import { canonicalTimeZone, DEFAULT_TIMEZONE } from '#domain/timezone.ts';
import { AGENTS_IN_FLIGHT, forEachLimited } from '#app/concurrency.ts';
import { InvalidMessageError } from '#app/errors.ts';
import { type Decide, mutateAgent } from '#app/mutate.ts';
import type { AwayReason, Ports, StoredAgent, WorkspaceSettings } from '#app/ports.ts';
import { assertAdmin, type Principal } from '#app/principal.ts';

/** The longest unavailableAfterSeconds: an hour. */
const MAX_UNAVAILABLE_AFTER_SECONDS = 3_600;

/** The settings as the API shows them: every value, defaults filled in. */
export interface SettingsView {
  idleTimeoutSeconds: number;
  timezone: string;
  awayReasons: AwayReason[];
  /** null: the reassignment hook is off. */
  unavailableAfterSeconds: number | null;
}

export interface SettingsChange {
  idleTimeoutSeconds?: number | undefined;
  timezone?: string | undefined;
  awayReasons?: AwayReason[] | undefined;
  unavailableAfterSeconds?: number | null | undefined;
}

export async function getSettings(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<SettingsView> {
  return viewOf(ports, await ports.store.getSettings(workspaceId));
}

function viewOf(ports: Pick<Ports, 'config'>, settings: WorkspaceSettings | undefined): SettingsView {
  return {
    idleTimeoutSeconds: settings?.idleTimeoutSeconds ?? ports.config.defaultIdleTimeoutSeconds,
    timezone: settings?.timezone ?? DEFAULT_TIMEZONE,
    awayReasons: (settings?.awayReasons ?? []).map(({ id, label, emoji }) => ({ id, label, ...(emoji !== undefined ? { emoji } : {}) })),
    unavailableAfterSeconds: settings?.unavailableAfterSeconds ?? null,
  };
}

/** Changes kept in the settings for judging older activity (idleDeadline); older ones are dropped. */
const CHANGES_KEPT = 10;

/** Refuses a value out of bounds before anything is read or written. */
function validate(ports: Pick<Ports, 'config'>, change: SettingsChange): string | undefined {
  const { minIdleTimeoutSeconds: min, maxIdleTimeoutSeconds: max, minUnavailableAfterSeconds: minUnavailable } = ports.config;
  const seconds = change.idleTimeoutSeconds;
  if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < min || seconds > max)) {
    throw new InvalidMessageError(`idleTimeoutSeconds must be an integer from ${min} to ${max}`);
  }
  const unavailable = change.unavailableAfterSeconds;
  if (unavailable !== undefined && unavailable !== null && (!Number.isInteger(unavailable) || unavailable < minUnavailable || unavailable > MAX_UNAVAILABLE_AFTER_SECONDS)) {
    throw new InvalidMessageError(`unavailableAfterSeconds must be null (off) or an integer from ${minUnavailable} to ${MAX_UNAVAILABLE_AFTER_SECONDS}`);
  }
  const timezone = change.timezone === undefined ? undefined : canonicalTimeZone(change.timezone);
  if (change.timezone !== undefined && !timezone) {
    throw new InvalidMessageError(`timezone must be an IANA time zone name such as Europe/Madrid, not ${JSON.stringify(change.timezone)}`);
  }
  return timezone;
}

/**
 * Admins change the settings. Saving the values in force changes nothing. Then the agents the
 * change concerns are each judged under the settings as they are when it is written (a later
 * change wins) and written once:
 *
 * - A new idle timeout: the settings keep the recent changes (the timeout before each and its
 *   instant), so every path (heartbeats, sweeps, readers, this rollout) judges activity from
 *   before them alike, however long the rollout takes and however close two changes come: what
 *   readers already saw is kept, and anyone past only a new, shorter timeout goes idle at its
 *   change, not at a past instant. Each present agent (the status index) is written so its
 *   deadline moves at once and the sweeper keeps reading only what is due.
 * - Removed away reasons: each agent that chose one (the workspace's agents, read once) has it
 *   dropped; one away with it now is published away with no reason, by this admin.
 * - A new unavailableAfterSeconds: each agent in an uncounted-yet unavailable period (the
 *   workspace's agents, read once) gets its deadline moved, and one already past it is notified.
 */
/** Only an admin of the workspace changes its settings (the HTTP handler asks first, before reading the body). */
export function authorizeSettingsChange(principal: Principal, workspaceId: string): void {
  assertAdmin(principal, workspaceId, 'change its settings');
}

export async function putSettings(ports: Ports, principal: Principal, change: SettingsChange): Promise<SettingsView> {
  authorizeSettingsChange(principal, principal.workspaceId);
  const timezone = validate(ports, change);
  const workspaceId = principal.workspaceId;
  const current = await ports.store.getSettings(workspaceId);
  const shown = viewOf(ports, current);
  const next: SettingsView = {
    idleTimeoutSeconds: change.idleTimeoutSeconds ?? shown.idleTimeoutSeconds,
    timezone: timezone ?? shown.timezone,
    awayReasons: change.awayReasons ?? shown.awayReasons,
    unavailableAfterSeconds: change.unavailableAfterSeconds === undefined ? shown.unavailableAfterSeconds : change.unavailableAfterSeconds,
  };
  if (JSON.stringify(next) === JSON.stringify(shown)) return shown;
  const previous = shown.idleTimeoutSeconds;
  const idleChanged = previous !== next.idleTimeoutSeconds;
  const changes = idleChanged
    ? [...(current?.changes ?? []), { previousIdleTimeoutSeconds: previous, changedAt: ports.clock.now() }].slice(-CHANGES_KEPT)
    : current?.changes;
  await ports.store.putSettings(workspaceId, {
    idleTimeoutSeconds: next.idleTimeoutSeconds,
    timezone: next.timezone,
    ...(changes?.length ? { changes } : {}),
    ...(next.awayReasons.length ? { awayReasons: next.awayReasons } : {}),
    ...(next.unavailableAfterSeconds !== null ? { unavailableAfterSeconds: next.unavailableAfterSeconds } : {}),
  });
  if (idleChanged) {
    const present = (
      await Promise.all([ports.store.listByStatus(workspaceId, 'online'), ports.store.listByStatus(workspaceId, 'away')])
    ).flat();
    // The agent and the settings are read afresh: the settings may have changed again since.
    await rollOut(ports, workspaceId, present, (stored, now, policy) => (stored ? decide.expire(stored, { now }, policy) : null));
  }
  const kept = new Set(next.awayReasons.map((reason) => reason.id));
  const removed = new Set(shown.awayReasons.map((reason) => reason.id).filter((id) => !kept.has(id)));
  const hookChanged = shown.unavailableAfterSeconds !== next.unavailableAfterSeconds;
  if (removed.size > 0 || hookChanged) {
    const agents = (await ports.store.listAgents(workspaceId)).filter(
      (agent) => (agent.awayReason !== null && removed.has(agent.awayReason)) || (hookChanged && agent.unavailableSince !== null),
    );
    await rollOut(ports, workspaceId, agents, (stored, now, policy) => {
      if (!stored) return null;
      return decide.dropAwayReason(stored, { removed, by: principal.userId, now }, policy) ?? decide.expire(stored, { now }, policy);
    });
  }
  return next;
}

/** Writes each agent once under `decide`, a few at a time. */
async function rollOut(ports: Ports, workspaceId: string, agents: StoredAgent[], decide: Decide): Promise<void> {
  await forEachLimited(agents, AGENTS_IN_FLIGHT, async (agent) => {
    await mutateAgent(ports, workspaceId, agent.userId, decide);
  });
}
