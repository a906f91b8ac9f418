/**
 * The heartbeat's one read: the agent and its workspace's settings in a single BatchGetItem on
 * DynamoDB Local, including when DynamoDB leaves keys unprocessed (injected below the SDK).
 */
import { describe, expect, it } from 'vitest';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { agentSk, workspacePk } from '#adapters/keys.ts';
import { heartbeat } from '#app/agent-actions.ts';
import { makeHarness, uniqueWorkspace } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

type Item = Record<string, unknown>;

/**
 * Counts each command (low-level names); for the first `unprocessed` BatchGetItems, holds back the
 * settings key as DynamoDB does under throttling. Above the DocumentClient's unmarshalling, so
 * items are plain objects.
 */
function observe(client: DynamoDBDocumentClient, unprocessed = 0) {
  const counts: Record<string, number> = {};
  let remaining = unprocessed;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '?';
      counts[name] = (counts[name] ?? 0) + 1;
      const result = await next(args);
      if (name === 'BatchGetItemCommand' && remaining > 0) {
        remaining--;
        const output = result.output as { Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys: Item[] }> };
        for (const [table, items] of Object.entries(output.Responses ?? {})) {
          const held = items.filter((item) => item.sk === 'SETTINGS');
          output.Responses![table] = items.filter((item) => item.sk !== 'SETTINGS');
          if (held.length > 0) output.UnprocessedKeys = { [table]: { Keys: held.map(({ pk, sk }) => ({ pk, sk })) } };
        }
      }
      return result;
    },
    { step: 'initialize', name: `observe-${Math.random()}` },
  );
  return counts;
}

async function seeded() {
  const harness = await makeHarness();
  const workspace = uniqueWorkspace();
  const service = makeService(harness);
  await TestConnection.open(service, { workspace, sub: 'alice' });
  await harness.store.putSettings(workspace, { idleTimeoutSeconds: 120, changes: [{ previousIdleTimeoutSeconds: 600, changedAt: 5 }] });
  return { harness, workspace };
}

describe('getAgentWithSettings', () => {
  it('reads the agent and the settings in one request', async () => {
    const { harness, workspace } = await seeded();
    const counts = observe(harness.client);
    const read = await harness.store.getAgentWithSettings(workspace, 'alice');
    expect(counts).toEqual({ BatchGetItemCommand: 1 });
    const { Item } = await harness.client.send(
      new GetCommand({ TableName: harness.tableName, Key: { pk: workspacePk(workspace), sk: agentSk('alice') }, ConsistentRead: true }),
    );
    expect(read.agent).toMatchObject({ userId: 'alice', status: Item?.status, version: Item?.version, chosen: Item?.chosen });
    expect(Object.keys(read.agent?.connections ?? {})).toEqual(Object.keys(Item?.connections ?? {}));
    expect(read.settings).toEqual({ idleTimeoutSeconds: 120, changes: [{ previousIdleTimeoutSeconds: 600, changedAt: 5 }] });
  });

  it('returns nothing for an agent and settings that were never stored', async () => {
    const harness = await makeHarness();
    expect(await harness.store.getAgentWithSettings(uniqueWorkspace(), 'nobody')).toEqual({ agent: undefined, settings: undefined });
  });

  it('asks again for keys DynamoDB left unprocessed', async () => {
    const { harness, workspace } = await seeded();
    const counts = observe(harness.client, 2);
    const read = await harness.store.getAgentWithSettings(workspace, 'alice');
    expect(read.settings?.idleTimeoutSeconds).toBe(120);
    expect(read.agent?.userId).toBe('alice');
    expect(counts).toEqual({ BatchGetItemCommand: 3 });
  });

  it('falls back to one GetItem per key when they stay unprocessed', async () => {
    const { harness, workspace } = await seeded();
    const counts = observe(harness.client, 100);
    const read = await harness.store.getAgentWithSettings(workspace, 'alice');
    expect(read.settings?.idleTimeoutSeconds).toBe(120);
    expect(counts).toEqual({ BatchGetItemCommand: 3, GetItemCommand: 1 });
  });

  it('is the only read a heartbeat makes', async () => {
    const { harness, workspace } = await seeded();
    const counts = observe(harness.client);
    harness.clock.advance(1000);
    await heartbeat(
      harness.ports,
      { principal: { workspaceId: workspace, userId: 'alice', name: 'alice', teams: [], role: 'agent' }, connectionId: 'none', connectedAt: harness.clock.now() },
      false,
    ).catch(() => undefined);
    expect(counts.BatchGetItemCommand).toBe(1);
    expect(counts.GetItemCommand).toBeUndefined();
  });
});
