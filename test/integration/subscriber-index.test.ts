/**
 * The subscriber index on DynamoDB Local: each connection is copied under its user and under the
 * whole workspace or each team it follows, so delivery reads a change's audience rather than
 * every connection of the workspace. The copies must always match the connection's item.
 */
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { AUDIENCE_QUERIES_AT_MOST, deliverChanges } from '#app/fanout.ts';
import type { ConnectionRecord } from '#app/ports.ts';
import type { Transition } from '#domain/agent.ts';
import { makeHarness, uniqueWorkspace } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

async function setup() {
  const harness = await makeHarness();
  return { harness, service: makeService(harness), workspace: uniqueWorkspace() };
}

type Harness = Awaited<ReturnType<typeof makeHarness>>;

/** The index entries of one workspace, as `sk` strings, sorted. */
async function indexOf(harness: Harness, workspace: string): Promise<string[]> {
  return (await harness.scanTable())
    .filter((item) => item.pk === `WS#${workspace}` && String(item.sk).startsWith('SUB#'))
    .map((item) => String(item.sk))
    .sort();
}

const ids = (connections: ConnectionRecord[]) => connections.map((connection) => connection.connectionId).sort();

describe('subscriber index', () => {
  it('a connection is indexed under its user and the whole workspace, then under its teams after a subscribe, and back', async () => {
    const { harness, service, workspace } = await setup();
    const sam = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    expect(await indexOf(harness, workspace)).toEqual([`SUB#U#sam#${sam.id}`, `SUB#W#${sam.id}`].sort());

    await sam.subscribe(['sales', 'support']);
    expect(await indexOf(harness, workspace)).toEqual([`SUB#T#sales#${sam.id}`, `SUB#T#support#${sam.id}`, `SUB#U#sam#${sam.id}`].sort());
    // Every copy carries the scope the item has.
    const copies = (await harness.scanTable()).filter((item) => String(item.sk).endsWith(sam.id));
    expect(copies.map((item) => item.scope)).toEqual(copies.map(() => ['sales', 'support']));

    await sam.subscribe(null);
    expect(await indexOf(harness, workspace)).toEqual([`SUB#U#sam#${sam.id}`, `SUB#W#${sam.id}`].sort());
  });

  it('a connection that asks for teams in its URL starts with that subscription: no workspace copy, no subscribe', async () => {
    const { harness, service, workspace } = await setup();
    const wallboard = await TestConnection.open(service, { workspace, sub: 'supervisor' });
    const sally = await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] }, { teams: 'support,sales' });
    harness.gateway.clear();

    await TestConnection.open(service, { workspace, sub: 'otto', teams: ['ops'] });
    await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    await sally.getPresence();

    expect((await harness.store.getConnection(workspace, sally.id))?.scope).toEqual(['sales', 'support']);
    expect((await indexOf(harness, workspace)).filter((sk) => sk.endsWith(sally.id))).toEqual(
      [`SUB#T#sales#${sally.id}`, `SUB#T#support#${sally.id}`, `SUB#U#sally#${sally.id}`].sort(),
    );
    expect(sally.presence().map((change) => change.userId)).toEqual(['sam']);
    expect(wallboard.presence().map((change) => change.userId)).toEqual(['otto', 'sam']);
    expect(sally.snapshots()[0]?.scope).toEqual(['sales', 'support']);
  });

  it.each([
    ['an empty list', ''],
    ['a bad team id', 'sales,no spaces'],
    ['an empty id', 'sales,,support'],
    ['more than 50 teams', Array.from({ length: 51 }, (_, i) => `t${i}`).join(',')],
  ])('teams in the URL with %s refuse the connection with 400 and write nothing', async (_label, teams) => {
    const { harness, service, workspace } = await setup();
    const before = await harness.scanTable();

    await expect(TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] }, { teams })).rejects.toMatchObject({ status: 400 });

    expect(await harness.scanTable()).toEqual(before);
  });

  it("a change's audience is its user's connections, its teams' subscribers and the workspace's followers, nobody else", async () => {
    const { harness, service, workspace } = await setup();
    const wallboard = await TestConnection.open(service, { workspace, sub: 'supervisor' });
    const salesmate = await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] });
    await salesmate.subscribe(['sales']);
    const other = await TestConnection.open(service, { workspace, sub: 'otto', teams: ['support'] });
    await other.subscribe(['support']);
    // Sam follows support only, yet his own changes reach him.
    const sam = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    await sam.subscribe(['support']);

    const audience = await harness.store.listAudience(workspace, ['sam'], ['sales']);

    expect(ids(audience)).toEqual([wallboard.id, salesmate.id, sam.id].sort());
    expect(audience.find((connection) => connection.connectionId === sam.id)?.scope).toEqual(['support']);
  });

  it('delivery reads the audience, never the whole workspace', async () => {
    const { harness, service, workspace } = await setup();
    const sally = await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] });
    await sally.subscribe(['sales']);
    const otto = await TestConnection.open(service, { workspace, sub: 'otto', teams: ['support'] });
    await otto.subscribe(['support']);
    const listConnections = harness.store.listConnections.bind(harness.store);
    let workspaceReads = 0;
    harness.store.listConnections = (...args) => {
      workspaceReads++;
      return listConnections(...args);
    };
    harness.gateway.clear();

    await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });

    expect(sally.presence().map((change) => change.userId)).toEqual(['sam']);
    expect(otto.presence()).toEqual([]);
    expect(workspaceReads).toBe(0);
  });

  it("a storm's batch, naming more users and teams than the index is worth, reads the workspace's connections once", async () => {
    const { harness, service, workspace } = await setup();
    const wallboard = await TestConnection.open(service, { workspace, sub: 'supervisor' });
    const otto = await TestConnection.open(service, { workspace, sub: 'otto', teams: ['support'] });
    await otto.subscribe(['support']);
    const counts = { index: 0, workspace: 0 };
    const listAudience = harness.store.listAudience.bind(harness.store);
    const listConnections = harness.store.listConnections.bind(harness.store);
    harness.store.listAudience = (...args) => {
      counts.index++;
      return listAudience(...args);
    };
    harness.store.listConnections = (...args) => {
      counts.workspace++;
      return listConnections(...args);
    };
    harness.gateway.clear();
    const now = harness.clock.now();
    // One more user than the index may serve with AUDIENCE_QUERIES_AT_MOST Queries.
    const storm: Transition[] = Array.from({ length: AUDIENCE_QUERIES_AT_MOST }, (_, i) => ({
      workspaceId: workspace,
      userId: `agent-${i}`,
      name: `Agent ${i}`,
      teams: ['sales'],
      status: 'online',
      previous: 'offline',
      reason: 'connect',
      at: now,
      version: 1,
    }));

    await deliverChanges(harness.ports, storm);

    expect(counts).toEqual({ index: 0, workspace: 1 });
    expect(wallboard.presence().map((change) => change.userId)).toEqual(storm.map((change) => change.userId));
    expect(otto.presence()).toEqual([]);
  });

  it('closing a connection deletes every copy; a logout closes only its user', async () => {
    const { harness, service, workspace } = await setup();
    const sam = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    await sam.subscribe(['sales', 'support']);
    const samsOtherTab = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    const sally = await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] });

    await sam.close();
    expect((await indexOf(harness, workspace)).filter((sk) => sk.endsWith(sam.id))).toEqual([]);

    await samsOtherTab.send({ action: 'logout' });
    expect(await indexOf(harness, workspace)).toEqual([`SUB#U#sally#${sally.id}`, `SUB#W#${sally.id}`].sort());
  });

  it('copies whose item is already gone are deleted from the record that found them', async () => {
    const { harness, workspace } = await setup();
    const record: ConnectionRecord = { connectionId: 'conn-left', userId: 'sam', connectedAt: harness.clock.now(), scope: ['sales'] };
    await harness.store.putConnection(workspace, record);
    // The item alone goes (a partial failure): its copies stay behind.
    await harness.client.send(new DeleteCommand({ TableName: harness.tableName, Key: { pk: `WS#${workspace}`, sk: 'CONN#conn-left' } }));
    const [found] = await harness.store.listAudience(workspace, [], ['sales']);
    expect(found?.connectionId).toBe('conn-left');

    await harness.store.deleteConnections(workspace, ['conn-left'], [found!]);

    expect(await indexOf(harness, workspace)).toEqual([]);
  });

  it('concurrent subscribes on one connection leave the copies matching the item', async () => {
    const { harness, workspace } = await setup();
    const base: ConnectionRecord = { connectionId: 'conn-1', userId: 'sam', connectedAt: harness.clock.now() };
    await harness.store.putConnection(workspace, base);
    const scopes = [['a'], ['b', 'c'], null, ['c'], ['d', 'a'], ['e']];

    await Promise.all(scopes.map((scope) => harness.store.setScope(workspace, { ...base, scope })));

    const item = await harness.store.getConnection(workspace, 'conn-1');
    const expected = item?.scope ? item.scope.map((team) => `SUB#T#${team}#conn-1`) : ['SUB#W#conn-1'];
    expect(await indexOf(harness, workspace)).toEqual([...expected, 'SUB#U#sam#conn-1'].sort());
    const copies = (await harness.scanTable()).filter((row) => String(row.sk).startsWith('SUB#'));
    expect(copies.map((row) => row.scope ?? null)).toEqual(copies.map(() => item?.scope ?? null));
  });

  it('a subscribe that replaces 50 teams with 50 others leaves only the new ones', async () => {
    const { harness, workspace } = await setup();
    const base: ConnectionRecord = { connectionId: 'conn-1', userId: 'sam', connectedAt: harness.clock.now() };
    const first = Array.from({ length: 50 }, (_, i) => `first-${i}`);
    const second = Array.from({ length: 50 }, (_, i) => `second-${i}`);
    await harness.store.putConnection(workspace, { ...base, scope: first });

    await harness.store.setScope(workspace, { ...base, scope: second });

    expect(await indexOf(harness, workspace)).toEqual([...second.map((team) => `SUB#T#${team}#conn-1`), 'SUB#U#sam#conn-1'].sort());
  });
});
