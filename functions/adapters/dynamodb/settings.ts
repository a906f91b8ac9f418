/** The workspace's settings item. */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { WorkspaceSettings } from '#app/ports.ts';
import { SETTINGS_SK, workspacePk } from '#adapters/keys.ts';
import type { TableAccess, TableItem } from './access.ts';

export function toSettings(item: TableItem): WorkspaceSettings {
  return {
    idleTimeoutSeconds: item.idleTimeoutSeconds as number,
    ...(typeof item.timezone === 'string' ? { timezone: item.timezone } : {}),
    ...(Array.isArray(item.changes) ? { changes: item.changes as NonNullable<WorkspaceSettings['changes']> } : {}),
    ...(Array.isArray(item.awayReasons) ? { awayReasons: item.awayReasons as NonNullable<WorkspaceSettings['awayReasons']> } : {}),
    ...(typeof item.unavailableAfterSeconds === 'number' ? { unavailableAfterSeconds: item.unavailableAfterSeconds } : {}),
  };
}

export async function getSettings(table: TableAccess, workspaceId: string): Promise<WorkspaceSettings | undefined> {
  const { Item } = await table.client.send(
    new GetCommand({
      TableName: table.tableName,
      Key: { pk: workspacePk(workspaceId), sk: SETTINGS_SK },
      ConsistentRead: true,
    }),
  );
  return Item ? toSettings(Item) : undefined;
}

/** The item that holds `settings`: optional fields only when set, as toSettings reads them. */
export function toSettingsItem(workspaceId: string, settings: WorkspaceSettings): TableItem {
  return {
    pk: workspacePk(workspaceId),
    sk: SETTINGS_SK,
    idleTimeoutSeconds: settings.idleTimeoutSeconds,
    ...(settings.timezone ? { timezone: settings.timezone } : {}),
    ...(settings.changes?.length ? { changes: settings.changes } : {}),
    ...(settings.awayReasons?.length ? { awayReasons: settings.awayReasons } : {}),
    ...(settings.unavailableAfterSeconds !== undefined ? { unavailableAfterSeconds: settings.unavailableAfterSeconds } : {}),
  };
}

export async function putSettings(table: TableAccess, workspaceId: string, settings: WorkspaceSettings): Promise<void> {
  await table.client.send(new PutCommand({ TableName: table.tableName, Item: toSettingsItem(workspaceId, settings) }));
}
