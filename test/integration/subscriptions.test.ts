/**
 * Team-scoped subscriptions and paged snapshots through the real handlers on DynamoDB Local:
 * who receives which change, what a subscribe answers, that the scope is kept with the
 * connection, and that a snapshot of any size arrives in labeled parts under API Gateway's limit.
 */
import { describe, expect, it } from 'vitest';
import type { SnapshotMessage } from '#app/messages.ts';
import { newAgent } from '#domain/agent.ts';
import { SNAPSHOT_PART_BYTES } from '#domain/snapshot-parts.ts';
import { makeHarness, uniqueWorkspace } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

const SECOND = 1000;
/** API Gateway refuses a posted message over 128 KB. */
const API_GATEWAY_LIMIT = 128 * 1024;

async function setup() {
  const harness = await makeHarness();
  const service = makeService(harness);
  return { harness, service, workspace: uniqueWorkspace(), clock: harness.clock };
}

const changes = (connection: TestConnection) => connection.presence().map((message) => `${message.userId}:${message.status}`);
const users = (snapshot: SnapshotMessage | undefined) => snapshot?.users.map((user) => user.userId);

describe('subscribe', () => {
  it('a team subscriber receives only its teams and its own changes; a workspace subscriber every change', async () => {
    // Prepare
    const { service, workspace, clock, harness } = await setup();
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    const wallboard = await TestConnection.open(service, { workspace, sub: 'boss' });
    const carol = await TestConnection.open(service, { workspace, sub: 'carol', teams: ['support'] });
    const sally = await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales', 'support'] });
    await agent.subscribe(['sales']);
    harness.gateway.clear();
    clock.advance(SECOND);

    // Act
    await carol.setStatus('away');
    await sally.setStatus('away');
    await agent.setStatus('away');

    // Assess
    expect(changes(agent)).toEqual(['sally:away', 'sam:away']);
    expect(changes(wallboard)).toEqual(['carol:away', 'sally:away', 'sam:away']);
    expect(changes(carol)).toEqual(['carol:away', 'sally:away', 'sam:away']);
  });

  it('replies with a snapshot of exactly that scope, and null goes back to the whole workspace', async () => {
    const { service, workspace } = await setup();
    await TestConnection.open(service, { workspace, sub: 'carol', teams: ['support'] });
    await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] });
    await TestConnection.open(service, { workspace, sub: 'kim', teams: ['billing'] });
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });

    await agent.subscribe(['support', 'sales', 'support']);
    await agent.subscribe(null);

    const [scoped, whole] = agent.snapshots();
    expect(scoped).toMatchObject({ part: 1, parts: 1, scope: ['sales', 'support'] });
    expect(users(scoped)).toEqual(['carol', 'sally', 'sam']);
    expect(whole).toMatchObject({ scope: null });
    expect(users(whole)).toEqual(['carol', 'kim', 'sally', 'sam']);
  });

  it('the scope is kept with the connection: later getPresence, sweeps and other handlers honour it', async () => {
    const { service, workspace, clock, harness } = await setup();
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    await agent.subscribe(['sales']);
    const carol = await TestConnection.open(service, { workspace, sub: 'carol', teams: ['support'] });
    const sally = await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] });
    harness.gateway.clear();

    await agent.getPresence();
    // Both leave without a goodbye: the sweeper, not a handler of this connection, publishes it.
    await carol.close();
    await sally.close();
    clock.advance(11 * SECOND);
    await service.sweep();

    expect(users(agent.snapshots()[0])).toEqual(['sally', 'sam']);
    expect(agent.snapshots()[0]?.scope).toEqual(['sales']);
    expect(changes(agent)).toEqual(['sally:offline']);
  });

  it('a heartbeat that brings back a given-up connection keeps its scope', async () => {
    const { service, workspace, clock, harness } = await setup();
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    await agent.subscribe(['sales']);
    // The lease passes: the agent times out, its connection item stays (a 410 would remove it).
    clock.advance(91 * SECOND);
    await service.sweep();
    await agent.heartbeat(true);
    const carol = await TestConnection.open(service, { workspace, sub: 'carol', teams: ['support'] });
    harness.gateway.clear();

    await carol.setStatus('away');

    expect(changes(agent)).toEqual([]);
    expect(await harness.store.getConnection(workspace, agent.id)).toMatchObject({ scope: ['sales'] });
  });

  it('a team snapshot reads the team, not the workspace, and leaves out a member who left it', async () => {
    const { service, workspace, harness } = await setup();
    const carol = await TestConnection.open(service, { workspace, sub: 'carol', teams: ['sales'] });
    await carol.close();
    // Carol's token now says support: her next connect moves her.
    await TestConnection.open(service, { workspace, sub: 'carol', teams: ['support'] });
    await TestConnection.open(service, { workspace, sub: 'sally', teams: ['sales'] });
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    const listAgents = harness.store.listAgents.bind(harness.store);
    let workspaceReads = 0;
    harness.store.listAgents = (...args) => {
      workspaceReads++;
      return listAgents(...args);
    };

    await agent.subscribe(['sales']);

    expect(users(agent.snapshots()[0])).toEqual(['sally', 'sam']);
    expect(workspaceReads).toBe(0);
    expect(await harness.store.listTeamMembers(workspace, 'sales')).not.toContain('carol');
    expect(await harness.store.listTeamMembers(workspace, 'support')).toContain('carol');
  });

  it.each([
    ['no teams field', {}],
    ['an empty list', { teams: [] }],
    ['a bad team id', { teams: ['sales', 'no spaces'] }],
    ['a team that is not a string', { teams: [42] }],
    ['more than 50 teams', { teams: Array.from({ length: 51 }, (_, i) => `t${i}`) }],
    ['an extra field', { teams: null, workspace: 'other' }],
  ])('%s gets invalid_message and changes nothing', async (_label, fields) => {
    const { service, workspace, harness } = await setup();
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });
    await agent.subscribe(['sales']);
    const before = await harness.scanTable();
    harness.gateway.clear();

    await agent.send({ action: 'subscribe', ...fields });

    expect(agent.received()).toEqual([expect.objectContaining({ type: 'error', code: 'invalid_message' })]);
    expect(await harness.scanTable()).toEqual(before);
  });
});

describe('data kept', () => {
  it('connection and team membership items carry their TTL in epoch seconds: 3 hours and 90 days', async () => {
    const { service, workspace, clock, harness } = await setup();
    const agent = await TestConnection.open(service, { workspace, sub: 'sam', teams: ['sales'] });

    const items = await harness.scanTable();

    const connection = items.find((item) => item.sk === `CONN#${agent.id}`);
    const membership = items.find((item) => item.sk === 'TEAM#sales#sam');
    expect(connection?.ttl).toBe(Math.ceil((clock.now() + 3 * 3_600_000) / 1000));
    expect(membership?.ttl).toBe(Math.ceil((clock.now() + 90 * 86_400_000) / 1000));
  });
});

describe('paged snapshots', () => {
  it('1,200 users arrive in labeled parts, each well under 128 KB, in order and complete', async () => {
    // Prepare: 1,200 agents with long names and teams, written straight to the store.
    const { service, workspace, clock, harness } = await setup();
    const now = clock.now();
    const ids = Array.from({ length: 1200 }, (_, i) => `agent-${String(i).padStart(4, '0')}`);
    for (let start = 0; start < ids.length; start += 50) {
      await Promise.all(
        ids.slice(start, start + 50).map((userId) =>
          harness.store.saveAgent(
            newAgent({ workspaceId: workspace, userId, name: `Agent ${userId} ${'é'.repeat(40)}`, teams: ['sales', 'support-tier-2'] }, now),
            null,
            now,
          ),
        ),
      );
    }
    const viewer = await TestConnection.open(service, { workspace, sub: 'viewer' });

    // Act
    await viewer.getPresence();

    // Assess
    const parts = viewer.snapshots();
    expect(parts.length).toBeGreaterThan(1);
    for (const [index, part] of parts.entries()) {
      expect(part).toMatchObject({ part: index + 1, parts: parts.length, id: parts[0]!.id, at: parts[0]!.at, scope: null });
      const bytes = Buffer.byteLength(JSON.stringify(part));
      expect(bytes).toBeLessThan(API_GATEWAY_LIMIT);
      expect(bytes).toBeLessThan(SNAPSHOT_PART_BYTES + 8 * 1024);
    }
    expect(parts.flatMap((part) => part.users.map((user) => user.userId))).toEqual([...ids, 'viewer'].sort());
  });
});
