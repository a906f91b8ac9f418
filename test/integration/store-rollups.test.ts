/**
 * The report's read of one agent's day rollups on DynamoDB Local (listRollups): the range's days
 * in date order and the latest rollup before the range, in one request when a page holds them,
 * whatever other users, gaps and older days the partition has.
 */
import { describe, expect, it } from 'vitest';
import type { StoredRollup } from '#app/ports.ts';
import { type Harness, makeHarness, uniqueWorkspace } from '#test/support/harness.ts';

const DAY_MS = 86_400_000;

function rollup(date: string): StoredRollup {
  const lastAt = Date.parse(`${date}T12:00:00Z`);
  return {
    date,
    timeZone: 'UTC',
    ms: { online: 1000, away: 0, offline: DAY_MS - 1000 },
    awayMs: {},
    lastAt,
    lastStatus: 'online',
    lastAwayReason: '',
    lastVersion: 1,
  };
}

async function seed(harness: Harness, workspace: string, userId: string, dates: string[]): Promise<void> {
  for (const date of dates) {
    expect(await harness.store.putRollup(workspace, userId, rollup(date), undefined, Date.now() + 90 * DAY_MS)).toBe(true);
  }
}

/** Counts the requests the store sends. */
function countRequests(harness: Harness): { count: number } {
  const counter = { count: 0 };
  harness.client.middlewareStack.add(
    (next) => async (args) => {
      counter.count++;
      return next(args);
    },
    { step: 'initialize', name: `count-${Math.random()}` },
  );
  return counter;
}

const dates = (list: { days?: StoredRollup[]; before?: StoredRollup | undefined }) => ({
  before: list.before?.date,
  days: (list.days ?? []).map((day) => day.date),
});

describe('listRollups', () => {
  it('reads the range in date order and the latest day before it in one request, past gaps and other users', async () => {
    const harness = await makeHarness();
    const workspace = uniqueWorkspace();
    await seed(harness, workspace, 'alice', ['2030-01-01', '2030-01-05', '2030-01-08', '2030-01-10', '2030-01-11', '2030-01-14', '2030-01-20']);
    // Users whose ids extend alice's or sort right after it: neither is read.
    await seed(harness, workspace, 'alice2', ['2030-01-09', '2030-01-12']);
    await seed(harness, workspace, 'alicf', ['2030-01-09']);
    const requests = countRequests(harness);

    const read = await harness.store.listRollups(workspace, 'alice', '2030-01-09', '2030-01-15');

    expect(dates(read)).toEqual({ before: '2030-01-08', days: ['2030-01-10', '2030-01-11', '2030-01-14'] });
    expect(requests.count).toBe(1);
  });

  it('finds the day before a range with a rollup every day in one request, whatever the store page size', async () => {
    // The store's page size (2 here, for the sweep) does not cut the report's read into pages.
    const harness = await makeHarness({}, 2);
    const workspace = uniqueWorkspace();
    const all = Array.from({ length: 12 }, (_, index) => new Date(Date.UTC(2030, 1, 1) + index * DAY_MS).toISOString().slice(0, 10));
    await seed(harness, workspace, 'bob', all);
    const requests = countRequests(harness);

    const read = await harness.store.listRollups(workspace, 'bob', '2030-02-04', '2030-02-10');

    expect(dates(read)).toEqual({ before: '2030-02-03', days: all.slice(3, 10) });
    expect(requests.count).toBe(1);
  });

  it('finds the latest day before a range without rollups', async () => {
    const harness = await makeHarness();
    const workspace = uniqueWorkspace();
    await seed(harness, workspace, 'carol', ['2029-12-01', '2029-12-02']);

    const read = await harness.store.listRollups(workspace, 'carol', '2030-03-01', '2030-03-01');

    expect(dates(read)).toEqual({ before: '2029-12-02', days: [] });
  });

  it('has no day before when there is none, and nothing for a user without rollups', async () => {
    const harness = await makeHarness();
    const workspace = uniqueWorkspace();
    await seed(harness, workspace, 'dave', ['2030-01-02', '2030-01-03']);

    expect(dates(await harness.store.listRollups(workspace, 'dave', '2030-01-01', '2030-01-03'))).toEqual({ before: undefined, days: ['2030-01-02', '2030-01-03'] });
    expect(await harness.store.listRollups(workspace, 'nobody', '2030-01-01', '2030-01-03')).toEqual({ days: [] });
  });
});
