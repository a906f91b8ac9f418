/** The connection item and its copies in the subscriber index (see keys.ts), and back. */
import type { ConnectionRecord } from '#app/ports.ts';
import { connectionSk, teamSubscriberPrefix, userSubscriberPrefix, WORKSPACE_SUBSCRIBER_PREFIX, workspacePk } from '#adapters/keys.ts';
import type { TableItem } from './access.ts';

/** API Gateway closes every WebSocket connection after 2 hours; keep its item a little longer. */
const CONNECTION_RETENTION_MS = 3 * 60 * 60 * 1000;

/** The sort keys a connection is indexed under as a subscriber (see keys.ts). */
export function subscriberKeys(connection: Pick<ConnectionRecord, 'connectionId' | 'userId' | 'scope'>): string[] {
  const id = connection.connectionId;
  const scope = connection.scope ?? null;
  const followed = scope === null ? [`${WORKSPACE_SUBSCRIBER_PREFIX}${id}`] : [...new Set(scope)].map((team) => `${teamSubscriberPrefix(team)}${id}`);
  return [`${userSubscriberPrefix(connection.userId)}${id}`, ...followed];
}

/** The connection's item and its copies in the subscriber index, all alike: the item first. */
export function connectionItems(workspaceId: string, connection: ConnectionRecord): TableItem[] {
  const pk = workspacePk(workspaceId);
  const body = {
    connectionId: connection.connectionId,
    userId: connection.userId,
    connectedAt: connection.connectedAt,
    ...(connection.scope ? { scope: connection.scope } : {}),
    ...(connection.expiresAt !== undefined ? { expiresAt: connection.expiresAt } : {}),
    ttl: Math.ceil((connection.connectedAt + CONNECTION_RETENTION_MS) / 1000),
  };
  return [connectionSk(connection.connectionId), ...subscriberKeys(connection)].map((sk) => ({ pk, sk, ...body }));
}

export function toConnection(item: TableItem): ConnectionRecord {
  return {
    connectionId: item.connectionId as string,
    userId: item.userId as string,
    connectedAt: item.connectedAt as number,
    scope: Array.isArray(item.scope) ? (item.scope as string[]) : null,
    ...(typeof item.expiresAt === 'number' ? { expiresAt: item.expiresAt } : {}),
  };
}
