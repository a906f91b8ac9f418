/**
 * 30 seconds of load on the local stack (real clock, sweeper timer on): 200 agents in 10
 * workspaces change status, reload and drop; every notification an observer sees must be the
 * model's, in order. The 5-minute, 1,000-agent run is `npm run load`.
 */
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { runLoad } from '#test/load/load.ts';

it('200 agents for 30 s: nothing lost, nothing duplicated, no errors', async () => {
  const report = await runLoad({
    clients: 200,
    seconds: 30,
    workspaces: 10,
    seed: 20261125,
    dynamoEndpoint: inject('dynamoEndpoint'),
    tableName: `load-${randomUUID()}`,
  });
  const { mismatches, errors, ...numbers } = report;
  // Printed whatever the outcome: how much work the run did, and the first errors if any.
  console.log(`load: ${JSON.stringify(numbers)}; ${mismatches.length} mismatches; ${errors.length} errors ${JSON.stringify(errors.slice(0, 5))}`);
  // A reload slower than the reconnect grace (10 s) would be a real disconnect: say so if it fails.
  expect({ mismatches: report.mismatches, slowestReloadMs: report.slowestReloadMs }).toEqual({
    mismatches: [],
    slowestReloadMs: expect.any(Number),
  });
  expect(report.errors).toEqual([]);
  expect({ lost: report.lost, duplicated: report.duplicated }).toEqual({ lost: 0, duplicated: 0 });
  // The run did real work: every agent acted, and every transition was seen.
  expect(report.actions).toBeGreaterThan(200 * 3);
  expect(report.notificationsSeen).toBe(report.notificationsExpected);
  expect(report.notificationsExpected).toBeGreaterThan(200 * 3);
});
