import type { Policy } from '#domain/presence.ts';
import type { PresenceConfig, Ports, WorkspaceSettings } from '#app/ports.ts';

export function policyFrom(config: PresenceConfig, settings: WorkspaceSettings | undefined): Policy {
  const change =
    settings?.changedAt !== undefined && settings.previousIdleTimeoutSeconds !== undefined
      ? { previousIdleTimeoutMs: settings.previousIdleTimeoutSeconds * 1000, at: settings.changedAt }
      : undefined;
  return {
    leaseMs: config.leaseMs,
    graceMs: config.graceMs,
    idleTimeoutMs: (settings?.idleTimeoutSeconds ?? config.defaultIdleTimeoutSeconds) * 1000,
    ...(change ? { idleTimeoutChange: change } : {}),
  };
}

export async function workspacePolicy(ports: Pick<Ports, 'store' | 'config'>, workspaceId: string): Promise<Policy> {
  return policyFrom(ports.config, await ports.store.getSettings(workspaceId));
}
