/**
 * Many connections of one user closing at once (a browser with many tabs closing): the
 * `$disconnect`s race on one agent item, and must converge on DynamoDB Local: the user goes
 * offline with reason `disconnect` after the grace, and no disconnect fails.
 */
import { describe, expect, it } from 'vitest';
import { makeHarness, uniqueWorkspace, storedAgent } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

describe('concurrent disconnects of one user', () => {
  it('50 connections closed at once: offline by disconnect after the grace, nothing failed', async () => {
    // Prepare: 50 tabs of alice, and a teammate watching.
    const harness = await makeHarness({ maxConnectionsPerUser: 50 });
    const errors: unknown[] = [];
    harness.ports.logger = { ...harness.ports.logger, error: (...args: unknown[]) => errors.push(args) };
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    const tabs: TestConnection[] = [];
    for (let i = 0; i < 50; i++) tabs.push(await TestConnection.open(service, { workspace, sub: 'alice' }));
    harness.gateway.clear();

    // Act: every tab closes at the same moment.
    await Promise.all(tabs.map((tab) => tab.close()));

    // Assess: no connection left on the agent, the grace running; offline once it passes.
    expect(errors).toEqual([]);
    expect(Object.keys((await storedAgent(harness.store, workspace, 'alice'))?.connections ?? {})).toEqual([]);
    harness.clock.advance(11_000);
    await service.sweep();
    expect(watcher.presence().filter((change) => change.userId === 'alice').map((change) => [change.status, change.reason])).toEqual([
      ['offline', 'disconnect'],
    ]);
  });
});
