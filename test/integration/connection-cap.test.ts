/**
 * One user's open connections are capped (PRESENCE_MAX_CONNECTIONS_PER_USER): the `$connect`
 * beyond it is refused with 429 and leaves nothing behind; a closed or dead connection frees its
 * place. So one token cannot multiply its rate budget, and the agent item stays small.
 */
import { describe, expect, it } from 'vitest';
import { makeHarness, uniqueWorkspace, storedAgent } from '#test/support/harness.ts';
import { HandshakeRejected, makeService, TestConnection } from '#test/support/service.ts';

async function atCap(max: number, leaseMs?: number) {
  const harness = await makeHarness({ maxConnectionsPerUser: max, ...(leaseMs ? { leaseMs } : {}) });
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  const tabs: TestConnection[] = [];
  for (let i = 0; i < max; i++) tabs.push(await TestConnection.open(service, { workspace, sub: 'alice', teams: ['sales'] }));
  return { harness, service, workspace, tabs };
}

describe('connections per user', () => {
  it('refuses the $connect beyond the cap with 429 and stores nothing for it', async () => {
    // Prepare
    const { harness, service, workspace } = await atCap(5);
    const before = await harness.scanTable();
    // A second later: a membership item rewritten now would carry a later TTL.
    harness.clock.advance(1000);

    // Act
    const refused = TestConnection.open(service, { workspace, sub: 'alice', teams: ['sales'] });

    // Assess
    await expect(refused).rejects.toEqual(new HandshakeRejected(429));
    expect(await harness.scanTable()).toEqual(before);
    expect(Object.keys((await storedAgent(harness.store, workspace, 'alice'))?.connections ?? {})).toHaveLength(5);
  });

  it('another user of the workspace is not affected', async () => {
    const { service, workspace } = await atCap(3);

    await expect(TestConnection.open(service, { workspace, sub: 'bob' })).resolves.toBeInstanceOf(TestConnection);
  });

  it('a closed connection frees its place', async () => {
    const { service, workspace, tabs } = await atCap(3);

    await tabs[0]!.close();

    await expect(TestConnection.open(service, { workspace, sub: 'alice' })).resolves.toBeInstanceOf(TestConnection);
  });

  it('connections whose lease passed (they died without a close) do not count', async () => {
    const { harness, service, workspace } = await atCap(3);

    harness.clock.advance(91_000);

    await expect(TestConnection.open(service, { workspace, sub: 'alice' })).resolves.toBeInstanceOf(TestConnection);
    expect(Object.keys((await storedAgent(harness.store, workspace, 'alice'))?.connections ?? {})).toHaveLength(1);
  });

  it("connections older than API Gateway's 2-hour lifetime do not count (their $disconnect never came)", async () => {
    // A lease longer than the lifetime, so only their age can free the places.
    const { harness, service, workspace } = await atCap(3, 3 * 3_600_000);

    harness.clock.advance(2 * 3_600_000);

    await expect(TestConnection.open(service, { workspace, sub: 'alice' })).resolves.toBeInstanceOf(TestConnection);
  });
});
