/** Daily rollup items: a user's time per status on one day, written only over the one read (see keys.ts). */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Status } from '#domain/agent.ts';
import type { StoredRollup } from '#app/ports.ts';
import { rollupPrefix, rollupSk, workspacePk } from '#adapters/keys.ts';
import { TABLE } from '#adapters/table.ts';
import { putIf, queryPages, type TableAccess, type TableItem } from './access.ts';

/** The rollup's awayMs key of away time with no reason ('#' is not in the id rule). */
const NO_REASON_KEY = '#none';

/** The item's attributes of a rollup, beside its keys and TTL. */
function rollupAttributes(rollup: StoredRollup): TableItem {
  return {
    date: rollup.date,
    timeZone: rollup.timeZone,
    online: rollup.ms.online,
    away: rollup.ms.away,
    offline: rollup.ms.offline,
    // A map key may not be empty: away time with no reason is kept under a key no id can be.
    awayMs: Object.fromEntries(Object.entries(rollup.awayMs).map(([key, ms]) => [key === '' ? NO_REASON_KEY : key, ms])),
    lastAt: rollup.lastAt,
    lastStatus: rollup.lastStatus,
    ...(rollup.lastAwayReason !== '' ? { lastAwayReason: rollup.lastAwayReason } : {}),
    lastVersion: rollup.lastVersion,
  };
}

function toRollup(item: TableItem): StoredRollup {
  return {
    date: item.date as string,
    timeZone: item.timeZone as string,
    ms: { online: item.online as number, away: item.away as number, offline: item.offline as number },
    awayMs: Object.fromEntries(Object.entries((item.awayMs as Record<string, number> | undefined) ?? {}).map(([key, ms]) => [key === NO_REASON_KEY ? '' : key, ms])),
    lastAt: item.lastAt as number,
    lastStatus: item.lastStatus as Status,
    lastAwayReason: (item.lastAwayReason as string | undefined) ?? '',

    lastVersion: item.lastVersion as number,
  };
}

export async function getRollup(table: TableAccess, workspaceId: string, userId: string, date: string): Promise<StoredRollup | undefined> {
  const { Item } = await table.client.send(
    new GetCommand({ TableName: table.tableName, Key: { pk: workspacePk(workspaceId), sk: rollupSk(userId, date) }, ConsistentRead: true }),
  );
  return Item ? toRollup(Item) : undefined;
}

export async function putRollup(
  table: TableAccess,
  workspaceId: string,
  userId: string,
  rollup: StoredRollup,
  expectedVersion: number | undefined,
  expiresAt: number,
): Promise<boolean> {
  return putIf(table, {
    Item: {
      pk: workspacePk(workspaceId),
      sk: rollupSk(userId, rollup.date),
      userId,
      ...rollupAttributes(rollup),
      [TABLE.ttlAttribute]: Math.ceil(expiresAt / 1000),
    },
    ...(expectedVersion === undefined
      ? { ConditionExpression: 'attribute_not_exists(sk)' }
      : { ConditionExpression: 'lastVersion = :expected', ExpressionAttributeValues: { ':expected': expectedVersion } }),
  });
}

const DAY_MS = 86_400_000;

/**
 * The rollups of the range's days and the latest one before it, in one query read newest first
 * from the range's last day and limited to the range's days and one more: the range holds at most
 * one rollup a day, so that page reaches the one before (a 1 MB page cut would be read on).
 */
export async function listRollups(
  table: TableAccess,
  workspaceId: string,
  userId: string,
  fromDate: string,
  toDate: string,
): Promise<{ before?: StoredRollup | undefined; days: StoredRollup[] }> {
  if (fromDate > toDate) throw new RangeError(`listRollups: ${fromDate} is after ${toDate}`);
  const rangeDays = Math.round((Date.parse(`${toDate}T00:00:00Z`) - Date.parse(`${fromDate}T00:00:00Z`)) / DAY_MS) + 1;
  const pages = queryPages(table, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
    ExpressionAttributeValues: { ':pk': workspacePk(workspaceId), ':low': rollupPrefix(userId), ':high': rollupSk(userId, toDate) },
    ScanIndexForward: false,
    Limit: rangeDays + 1,
    ConsistentRead: true,
  });
  const days: StoredRollup[] = [];
  for await (const page of pages) {
    for (const rollup of page.map(toRollup)) {
      if (rollup.date < fromDate) return { before: rollup, days: days.reverse() };
      days.push(rollup);
    }
  }
  return { days: days.reverse() };
}
