/** Reads of the subscriber index: the connections a delivery goes to. */
import type { ConnectionRecord } from '#app/ports.ts';
import { CONNECTION_PREFIX, teamSubscriberPrefix, userSubscriberPrefix, WORKSPACE_SUBSCRIBER_PREFIX } from '#adapters/keys.ts';
import { queryWorkspacePrefix, type TableAccess } from './access.ts';
import { toConnection } from './connection-item.ts';

/** Queries of one audience read at once. */
const QUERIES_IN_FLIGHT = 16;

export async function listAudience(table: TableAccess, workspaceId: string, users: string[], teams: string[]): Promise<ConnectionRecord[]> {
  const prefixes = [WORKSPACE_SUBSCRIBER_PREFIX, ...[...new Set(users)].map(userSubscriberPrefix), ...[...new Set(teams)].map(teamSubscriberPrefix)];
  const byId = new Map<string, ConnectionRecord>();
  // A storm's batch names a hundred users and dozens of teams: a few Queries at a time.
  for (let start = 0; start < prefixes.length; start += QUERIES_IN_FLIGHT) {
    const pages = await Promise.all(prefixes.slice(start, start + QUERIES_IN_FLIGHT).map((prefix) => querySubscribers(table, workspaceId, prefix)));
    for (const connection of pages.flat()) byId.set(connection.connectionId, connection);
  }
  return [...byId.values()];
}

export async function listUserConnections(table: TableAccess, workspaceId: string, userId: string): Promise<ConnectionRecord[]> {
  return querySubscribers(table, workspaceId, userSubscriberPrefix(userId));
}

async function querySubscribers(table: TableAccess, workspaceId: string, prefix: string): Promise<ConnectionRecord[]> {
  // A connection written a moment ago (its own $connect, a subscribe) must receive this delivery.
  return (await queryWorkspacePrefix(table, workspaceId, prefix)).map(toConnection);
}

export async function listConnections(table: TableAccess, workspaceId: string): Promise<ConnectionRecord[]> {
  return querySubscribers(table, workspaceId, CONNECTION_PREFIX);
}
