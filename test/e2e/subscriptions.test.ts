/**
 * The client SDK's subscriptions and paged snapshots against the local stack (real `ws`
 * clients, the emulator, the real handlers on DynamoDB Local): a team roster, re-subscribing
 * after a reconnect, back to the whole workspace, a bad scope refused, and a workspace far
 * larger than one API Gateway message loading whole.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { until } from '#test/support/client-events.ts';
import { PresenceClient, PresenceClientError } from '../../client/src/index.ts';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { newAgent } from '#domain/agent.ts';
import { makeDocumentClient } from '#handlers/composition.ts';
import type { TokenRequest } from '#local/tokens.ts';
import { type TestStack, startTestStack, uniqueWorkspace } from '#test/support/stack.ts';

let stack: TestStack;
const clients: PresenceClient[] = [];
beforeAll(async () => {
  stack = await startTestStack({ env: { PRESENCE_CONNECTION_LEASE_SECONDS: '120' } });
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => {
  await stack?.stop();
});

function make(request: TokenRequest): PresenceClient {
  const client = new PresenceClient({
    url: stack.wsUrl,
    token: () => stack.token(request),
    WebSocket,
    activity: 'manual',
    heartbeatIntervalMs: 60_000,
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
  });
  clients.push(client);
  return client;
}

const rosterIds = (client: PresenceClient) => [...client.roster.keys()].sort();

describe('PresenceClient.subscribe', () => {
  it('follows a team, keeps following it across a reconnect, and goes back to the workspace', async () => {
    // Prepare: Sam (sales) follows sales; Sally is in sales, Carol in support.
    const workspace = uniqueWorkspace();
    const sally = make({ workspace, user: 'sally', teams: ['sales'] });
    const carol = make({ workspace, user: 'carol', teams: ['support'] });
    await Promise.all([sally.connect(), carol.connect()]);
    // Their connects are delivered before Sam opens, so Sam hears only what follows.
    await stack.delivered();
    const sam = make({ workspace, user: 'sam', teams: ['sales'] });
    const heard: string[] = [];
    // Teammates' changes; his own connect may reach him before his snapshot or not at all (PROTOCOL.md).
    sam.on('presence', (event) => event.userId !== 'sam' && heard.push(`${event.userId}:${event.status}`));
    await sam.connect();
    expect(rosterIds(sam)).toEqual(['carol', 'sally', 'sam']);

    // Act 1: subscribe; Carol's change comes before Sally's, so hearing Sally's proves Carol's was not sent.
    await sam.subscribe(['sales']);
    expect(rosterIds(sam)).toEqual(['sally', 'sam']);
    await carol.setStatus('away');
    await sally.setStatus('away');
    await until(sam, () => sam.roster.get('sally')?.status === 'away', 'sally away', 10_000);
    expect(heard).toEqual(['sally:away']);
    expect(sam.subscription).toEqual(['sales']);

    // Act 2: the server drops Sam's connection; the client reconnects and subscribes again.
    const [samConnection] = stack.emulator.connectionIds().slice(-1);
    const opened = new Promise<void>((resolve) => sam.on('connection', (state) => state === 'open' && resolve()));
    await fetch(`${stack.managementUrl}/@connections/${samConnection}`, { method: 'DELETE' });
    await opened;
    expect(rosterIds(sam)).toEqual(['sally', 'sam']);
    await carol.setStatus('online');
    await sally.setStatus('online');
    await until(sam, () => sam.roster.get('sally')?.status === 'online', 'sally online', 10_000);
    expect(heard).toEqual(['sally:away', 'sally:online']);

    // Act 3: back to the whole workspace.
    await sam.subscribe(null);
    expect(rosterIds(sam)).toEqual(['carol', 'sally', 'sam']);
    await carol.setStatus('away');
    await until(sam, () => sam.roster.get('carol')?.status === 'away', 'carol away', 10_000);
  });

  it('refuses a bad scope before sending anything, and the server refuses one too', async () => {
    const workspace = uniqueWorkspace();
    const sam = make({ workspace, user: 'sam', teams: ['sales'] });
    await sam.connect();

    await expect(sam.subscribe(['no spaces allowed'])).rejects.toMatchObject({ code: 'invalid_message' });
    await expect(sam.subscribe([])).rejects.toBeInstanceOf(PresenceClientError);
    expect(sam.subscription).toBeNull();

    const raw = await stack.connect({ workspace, user: 'raw' });
    raw.send({ action: 'subscribe', teams: ['a/b'] });
    expect(await raw.next('error')).toMatchObject({ code: 'invalid_message' });
  });
});

describe('a workspace larger than one message', () => {
  it('loads whole: 1,500 users in parts, the roster replaced once, when the last part is in', async () => {
    // Prepare: 1,500 agents written straight to the stack's table (no 1,500 sockets needed).
    const workspace = uniqueWorkspace();
    const store = new DynamoDbPresenceStore({
      client: makeDocumentClient({ PRESENCE_DYNAMODB_ENDPOINT: stack.dynamoEndpoint }),
      tableName: stack.tableName,
      agentRetentionMs: 86_400_000,
    });
    const now = stack.clock.now();
    const ids = Array.from({ length: 1500 }, (_, i) => `agent-${i}`);
    for (let start = 0; start < ids.length; start += 50) {
      await Promise.all(
        ids.slice(start, start + 50).map((userId) =>
          store.saveAgent(newAgent({ workspaceId: workspace, userId, name: `Agent ${userId} ${'x'.repeat(60)}`, teams: ['floor-1'] }, now), null, now),
        ),
      );
    }
    const viewer = make({ workspace, user: 'viewer' });
    const sizes: number[] = [];
    viewer.on('roster', (roster) => sizes.push(roster.size));

    // Act
    await viewer.connect();

    // Assess
    // Before the snapshot the roster may hold the viewer alone (its own connect change); it is
    // never replaced by a part: the first snapshot-sized roster is the whole one.
    expect(viewer.roster.size).toBe(1501);
    expect(sizes.filter((size) => size > 1)).toEqual(sizes.filter((size) => size > 1).map(() => 1501));
    expect(sizes).toContain(1501);
  });
});
