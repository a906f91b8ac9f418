/**
 * The team page's Reports view in a real browser (Debian's Chromium through playwright-core):
 * two agents go through known transitions on the stack's manual clock, a supervisor opens
 * Reports, and the bars' proportions, the team filter and the CSV download match them. Takes
 * the README's screenshot (docs/reports-page.png) with PRESENCE_SCREENSHOTS=1.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, readmePicture } from '#test/support/chromium.ts';
import { startTestStack, type TestStack } from '#test/support/stack.ts';

const HOUR = 3_600_000;
const DAY_START = Date.UTC(2026, 10, 25);

let stack: TestStack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    // A day-long lease and idle timeout: between the transitions below nobody times out or goes idle.
    startTestStack({ env: { PRESENCE_CONNECTION_LEASE_SECONDS: '86400', PRESENCE_IDLE_TIMEOUT_SECONDS: '86400' } }),
    launchChromium(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** The seconds a bar segment stands for, and its width as a share of the bar. */
async function segment(page: Page, status: string, userId: string): Promise<{ seconds: number; share: number }> {
  const locator = page.getByTestId(`report-${status}-${userId}`);
  const seconds = Number(await locator.getAttribute('data-seconds'));
  const share = await locator.evaluate((element) => element.getBoundingClientRect().width / element.parentElement!.getBoundingClientRect().width);
  return { seconds, share };
}

it('shows a bar per agent in proportion to the day, filters by team and downloads the same rows as CSV', async () => {
  const workspace = 'demo';
  // Alice: online from midnight, away from 06:00. Bob: online from noon. (UTC, the workspace's zone.)
  stack.clock.current = DAY_START;
  const alice = await stack.connect({ workspace, user: 'alice', name: 'Alice Martin', teams: ['sales'] });
  stack.clock.current = DAY_START + 6 * HOUR;
  await stack.deliver(alice, { action: 'setStatus', status: 'away' });
  stack.clock.current = DAY_START + 12 * HOUR;
  const bob = await stack.connect({ workspace, user: 'bob', name: 'Bob Okafor', teams: ['support'] });
  await stack.deliver(bob);
  // The next midnight: the 25th is complete.
  stack.clock.current = DAY_START + 24 * HOUR;

  const context = await browser.newContext({ viewport: { width: 960, height: 460 }, acceptDownloads: true });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(5000);
    await page.goto(stack.httpUrl);
    await page.getByLabel('User id', { exact: true }).fill('sam');
    await page.getByLabel('Display name', { exact: true }).fill('Sam Supervisor');
    await page.getByTestId('sign-in-admin').check();
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator('[data-testid="roster-row-alice"]').waitFor();

    await page.getByTestId('reports-toggle').click();
    await page.getByTestId('report-date').fill('2026-11-25');
    await page.getByTestId('report-date').dispatchEvent('change');
    await page.getByTestId('report-row-bob').waitFor();
    await expect.poll(() => page.getByTestId('report-summary').textContent()).toContain('2026-11-25 (UTC)');

    const aliceOnline = await segment(page, 'online', 'alice');
    const aliceAway = await segment(page, 'away', 'alice');
    expect([aliceOnline.seconds, aliceAway.seconds]).toEqual([6 * 3600, 18 * 3600]);
    expect(aliceOnline.share).toBeCloseTo(0.25, 2);
    expect(aliceAway.share).toBeCloseTo(0.75, 2);
    const bobOffline = await segment(page, 'offline', 'bob');
    const bobOnline = await segment(page, 'online', 'bob');
    expect([bobOffline.seconds, bobOnline.seconds]).toEqual([12 * 3600, 12 * 3600]);
    expect(bobOnline.share).toBeCloseTo(0.5, 2);
    expect(await page.getByTestId('report-totals-alice').textContent()).toBe('Online 6h 00m, Away 18h 00m, Offline 0s');
    await readmePicture(page, 'reports-page.png');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('report-csv').click()]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.split('\r\n')).toEqual(expect.arrayContaining(['date,userId,name,online,away,offline,away:(none)', '2026-11-25,alice,Alice Martin,21600,64800,0,64800', '2026-11-25,bob,Bob Okafor,43200,0,43200,0']));

    await page.getByTestId('report-team').selectOption('sales');
    await expect.poll(() => page.locator('[data-testid^="report-row-"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-testid')))).toEqual(['report-row-alice']);
  } finally {
    await context.close();
    alice.socket.close();
    bob.socket.close();
  }
}, 60_000);
