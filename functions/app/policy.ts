import type { Policy } from '#domain/agent.ts';
import type { PresenceConfig, Ports, WorkspaceSettings } from '#app/ports.ts';

export function policyFrom(config: PresenceConfig, settings: WorkspaceSettings | undefined): Policy {
  const changes = (settings?.changes ?? []).map((change) => ({
    previousIdleTimeoutMs: change.previousIdleTimeoutSeconds * 1000,
    at: change.changedAt,
  }));
  return {
    leaseMs: config.leaseMs,
    graceMs: config.graceMs,
    idleTimeoutMs: (settings?.idleTimeoutSeconds ?? config.defaultIdleTimeoutSeconds) * 1000,
    ...(changes.length > 0 ? { idleTimeoutChanges: changes } : {}),
    ...(settings?.awayReasons?.length ? { awayReasons: settings.awayReasons.map((reason) => reason.id) } : {}),
    ...(settings?.unavailableAfterSeconds !== undefined ? { unavailableAfterMs: settings.unavailableAfterSeconds * 1000 } : {}),
  };
}

export async function workspacePolicy(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<Policy> {
  return policyFrom(ports.config, await ports.store.getSettings(workspaceId));
}
