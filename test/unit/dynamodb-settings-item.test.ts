/**
 * The workspace's settings item (adapters/dynamodb/settings.ts) without DynamoDB: settings written
 * and read back are the same settings, and an optional field that is not set is not in the item.
 */
import { describe, expect, it } from 'vitest';
import type { WorkspaceSettings } from '#app/ports.ts';
import { toSettings, toSettingsItem } from '#adapters/dynamodb/settings.ts';

describe('the settings item', () => {
  it('holds only the timeout and its keys when nothing else is set, and reads back as it was', () => {
    const settings: WorkspaceSettings = { idleTimeoutSeconds: 600 };
    const item = toSettingsItem('acme', settings);
    expect(Object.keys(item).sort()).toEqual(['idleTimeoutSeconds', 'pk', 'sk']);
    expect(toSettings(item)).toEqual(settings);
  });

  it('reads back every field it was given', () => {
    const settings: WorkspaceSettings = {
      idleTimeoutSeconds: 300,
      timezone: 'Europe/Paris',
      changes: [{ previousIdleTimeoutSeconds: 600, changedAt: 1_800_000_000_000 }],
      awayReasons: [{ id: 'lunch', label: 'Lunch' }],
      unavailableAfterSeconds: 0,
    };
    expect(toSettings(toSettingsItem('acme', settings))).toEqual(settings);
  });

  it('leaves out empty lists, as it reads their absence', () => {
    const item = toSettingsItem('acme', { idleTimeoutSeconds: 600, changes: [], awayReasons: [] });
    expect(item).not.toHaveProperty('changes');
    expect(item).not.toHaveProperty('awayReasons');
  });

  it('is keyed by its workspace: one settings item per workspace', () => {
    const a = toSettingsItem('acme', { idleTimeoutSeconds: 600 });
    const b = toSettingsItem('globex', { idleTimeoutSeconds: 600 });
    expect(a.pk).not.toEqual(b.pk);
    expect(a.sk).toEqual(b.sk);
  });
});
