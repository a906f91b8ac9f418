/**
 * The connection item and its subscriber-index copies (adapters/dynamodb/connection-item.ts)
 * without DynamoDB: every copy reads back as the connection, whatever its scope. Which copies a
 * subscribe or a delete leaves in the table is tested on DynamoDB Local (subscriber-index.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ConnectionRecord } from '#app/ports.ts';
import { connectionItems, subscriberKeys, toConnection } from '#adapters/dynamodb/connection-item.ts';

const CONNECTED_AT = Date.UTC(2030, 0, 1, 9, 0, 0);
const base: ConnectionRecord = { connectionId: 'c1', userId: 'alice', connectedAt: CONNECTED_AT, scope: null };

describe('connection item', () => {
  it.each<[string, ConnectionRecord]>([
    ['following the whole workspace', base],
    ['subscribed to teams, with a token that ends', { ...base, scope: ['sales', 'support'], expiresAt: CONNECTED_AT + 3_600_000 }],
    ['subscribed to no team', { ...base, scope: [] }],
  ])('reads back from the item and every copy, %s', (_, connection) => {
    const items = connectionItems('acme', connection);
    expect(items.map((item) => item.sk)).toEqual(['CONN#c1', ...subscriberKeys(connection)]);
    for (const item of items) expect(toConnection(item)).toEqual(connection);
  });

  it('reads a connection without a scope as following the whole workspace', () => {
    const [item] = connectionItems('acme', { connectionId: 'c1', userId: 'alice', connectedAt: CONNECTED_AT });
    expect(item).not.toHaveProperty('scope');
    expect(item).not.toHaveProperty('expiresAt');
    expect(toConnection(item!)).toEqual(base);
  });

  it('is indexed under its user, and under the workspace or each of its teams once', () => {
    expect(subscriberKeys(base)).toEqual(['SUB#U#alice#c1', 'SUB#W#c1']);
    expect(subscriberKeys({ ...base, scope: ['sales', 'sales', 'ops'] })).toEqual(['SUB#U#alice#c1', 'SUB#T#sales#c1', 'SUB#T#ops#c1']);
    expect(subscriberKeys({ ...base, scope: [] })).toEqual(['SUB#U#alice#c1']);
  });

  it('lives three hours from its $connect, an hour past API Gateway closing it (epoch seconds)', () => {
    for (const item of connectionItems('acme', { ...base, connectedAt: CONNECTED_AT + 1 })) {
      expect(item).toMatchObject({ pk: 'WS#acme', ttl: Math.ceil((CONNECTED_AT + 1 + 3 * 3_600_000) / 1000) });
    }
  });
});
