/**
 * The team page in a real browser (Debian's Chromium through playwright-core): two agents of one
 * workspace sign in on two pages and see each other's status change live. Takes the README's
 * screenshot (docs/team-page.png) with PRESENCE_SCREENSHOTS=1.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '#local/tokens.ts';
import { launchChromium, readmePicture } from '#test/support/chromium.ts';
import { startTestStack, type TestStack } from '#test/support/stack.ts';

/** Playwright's own waits (auto-waiting locators) give up after this. */
const WAIT_MS = 5000;

let stack: TestStack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    // A lease longer than the idle timeout, so moving the clock past it makes agents idle, not timed out.
    startTestStack({ env: { PRESENCE_CONNECTION_LEASE_SECONDS: '120', PRESENCE_IDLE_TIMEOUT_SECONDS: '30' } }),
    launchChromium(),
  ]);
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close().catch(() => {})));
  await browser?.close();
  await stack?.stop();
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 960, height: 420 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(stack.httpUrl);
  return page;
}

async function signIn(page: Page, fields: { workspace?: string; user: string; name: string; teams?: string }): Promise<void> {
  if (fields.workspace !== undefined) await page.getByLabel('Workspace', { exact: true }).fill(fields.workspace);
  await page.getByLabel('User id', { exact: true }).fill(fields.user);
  await page.getByLabel('Display name', { exact: true }).fill(fields.name);
  if (fields.teams) await page.getByLabel('Teams').fill(fields.teams);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Waits (playwright's auto-wait) until `page` shows `userId` with `status`. */
function waitForStatus(page: Page, userId: string, status: 'online' | 'away' | 'offline') {
  return page.locator(`[data-testid="roster-row-${userId}"][data-status="${status}"]`).waitFor();
}

describe('team page', () => {
  // The page's default workspace; each test stack has a table of its own, so nothing is shared.
  const workspace = 'demo';
  let pageA: Page;
  let pageB: Page;

  it('shows two agents of a workspace each other online, with names, teams and initials', async () => {
    // Prepare: a third agent who has been here and logged out, so the roster has every status.
    const carol = await stack.connect({ workspace, user: 'carol', name: 'Carol Diaz', teams: ['billing'] });
    carol.send({ action: 'logout' });
    await carol.next('loggedOut');

    // Act
    [pageA, pageB] = await Promise.all([openPage(), openPage()]);
    expect(await pageA.getByLabel('Workspace', { exact: true }).inputValue()).toBe(workspace);
    await signIn(pageA, { user: 'alice', name: 'Alice Martin', teams: 'sales, support' });
    await signIn(pageB, { user: 'bob', name: 'Bob Okafor', teams: 'support' });

    // Assess
    await Promise.all([waitForStatus(pageA, 'bob', 'online'), waitForStatus(pageB, 'alice', 'online')]);
    await waitForStatus(pageB, 'bob', 'online');
    await waitForStatus(pageB, 'carol', 'offline');
    const aliceOnB = pageB.getByTestId('roster-row-alice');
    expect(await aliceOnB.getByTestId('roster-name-alice').textContent()).toBe('Alice Martin');
    expect(await aliceOnB.locator('.team').allTextContents()).toEqual(['sales', 'support']);
    expect(await aliceOnB.locator('.avatar').innerText()).toBe('AM');
    expect(await pageB.getByTestId('status-dot-alice').getAttribute('aria-label')).toBe('Online');
    expect(await pageB.getByTestId('roster-row-bob').getAttribute('data-self')).toBe('true');
    // Sorted: online (by name), then offline.
    expect(await pageB.locator('[data-testid^="roster-row-"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-testid')))).toEqual([
      'roster-row-alice',
      'roster-row-bob',
      'roster-row-carol',
    ]);
  });

  it('offers only online and away in the status picker', async () => {
    const options = await pageA.getByTestId('status-picker').locator('option').evaluateAll((nodes) => nodes.map((node) => (node as HTMLOptionElement).value));
    expect(options).toEqual(['online', 'away']);
  });

  it("turns A's dot amber on B's page when A picks away", async () => {
    // Act
    await pageA.getByLabel('Status', { exact: true }).selectOption('away');

    // Assess
    await pageB.locator('[data-testid="status-dot-alice"][data-status="away"]').waitFor();
    expect(await pageB.getByTestId('status-dot-alice').getAttribute('aria-label')).toBe('Away');
    await pageA.locator('[data-testid="self-indicator"][data-status="away"]').waitFor();
    // Amber, as the legend says: the dot's colour, not only its attribute.
    expect(await pageB.getByTestId('status-dot-alice').evaluate((dot) => getComputedStyle(dot).backgroundColor)).toBe('rgb(224, 161, 0)');

    await readmePicture(pageB, 'team-page.png');
  });

  it('reconnects both pages when the server drops their connections, and stays live', async () => {
    // Prepare
    const before = stack.emulator.connectionIds();
    expect(before).toHaveLength(2);

    // Act: the management API closes every connection, as API Gateway may.
    await Promise.all(before.map((id) => fetch(`${stack.emulator.managementUrl}/@connections/${id}`, { method: 'DELETE' })));

    // Assess: two new connections (the pages' clients reconnected), each with its snapshot.
    while (stack.emulator.connectionIds().filter((id) => !before.includes(id)).length < 2) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([
      pageA.locator('[data-testid="status-picker"]:enabled').waitFor(),
      pageB.locator('[data-testid="status-picker"]:enabled').waitFor(),
    ]);
    await pageA.locator('[data-testid="offline-banner"]:empty').waitFor({ state: 'attached' });
    // Live again both ways: A's changes reach B (and A ends away, as it was).
    await pageA.getByLabel('Status', { exact: true }).selectOption('online');
    await waitForStatus(pageB, 'alice', 'online');
    await pageA.getByLabel('Status', { exact: true }).selectOption('away');
    await waitForStatus(pageB, 'alice', 'away');
    await waitForStatus(pageA, 'bob', 'online');
  });

  it("follows one of the agent's teams with the Show picker, and everyone again", async () => {
    // Act: Bob (support) shows only his team; Carol is in billing.
    await pageB.getByLabel('Show', { exact: true }).selectOption('support');

    // Assess
    await pageB.getByTestId('roster-row-carol').waitFor({ state: 'detached' });
    const rows = await pageB.locator('[data-testid^="roster-row-"]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-testid')));
    expect(rows.sort()).toEqual(['roster-row-alice', 'roster-row-bob']);
    // Still live for the team: Alice (sales, support) changes, and Bob's page shows it.
    await pageA.getByLabel('Status', { exact: true }).selectOption('online');
    await waitForStatus(pageB, 'alice', 'online');
    await pageB.getByLabel('Show', { exact: true }).selectOption('');
    await waitForStatus(pageB, 'carol', 'offline');
    await pageA.getByLabel('Status', { exact: true }).selectOption('away');
    await waitForStatus(pageB, 'alice', 'away');
  });

  it('shows the idle banner and clears it when the user is active again', async () => {
    // Prepare: every agent's last activity is older than the idle timeout.
    stack.clock.advance(31_000);

    // Act
    await stack.sweep();

    // Assess
    const banner = pageA.getByTestId('offline-banner');
    await pageA.locator('[data-testid="self-indicator"][data-status="offline"]').waitFor();
    expect(await banner.textContent()).toContain('You are offline: idle');
    await waitForStatus(pageB, 'alice', 'offline');

    // Act: activity on A's page brings A back, to the status A chose.
    await pageA.mouse.move(200, 200);
    await pageA.mouse.move(300, 260);

    // Assess
    await waitForStatus(pageB, 'alice', 'away');
    await pageA.locator('[data-testid="offline-banner"]:empty').waitFor({ state: 'attached' });
  });

  it("shows A offline on B's page when A logs out, and A's page goes back to sign-in", async () => {
    // Act
    await pageA.getByRole('button', { name: 'Log out' }).click();

    // Assess
    await waitForStatus(pageB, 'alice', 'offline');
    expect(await pageB.getByTestId('roster-row-alice').innerText()).toContain('logged out');
    await pageA.getByTestId('demo-sign-in').waitFor();
    expect(await pageA.getByTestId('sign-in-error').textContent()).toBe('You have logged out.');
    expect(await pageA.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('shows the server message when the sign-in input is bad', async () => {
    // Act
    await signIn(pageA, { workspace: 'not a workspace!', user: 'alice', name: 'Alice' });

    // Assess
    // The message of the stack's 400 reply, naming the field.
    await pageA.getByTestId('sign-in-error').filter({ hasText: /^workspace: must be 1 to 128 characters/ }).waitFor();
    await pageA.getByTestId('demo-sign-in').waitFor();
  });

  it('sends a refused token back to sign-in with the reason', async () => {
    // Prepare: a well-formed token signed with another secret; the browser cannot see the 401.
    const forged = await mintToken({ workspace, user: 'mallory' }, { secret: 'not-the-stack-secret-0123456789abcdef' });

    // Act
    await pageA.getByText('Paste a token instead').click();
    await pageA.getByRole('textbox', { name: /^Token/ }).fill(forged);
    await pageA.getByRole('button', { name: 'Sign in with token' }).click();

    // Assess
    await pageA.getByTestId('sign-in-error').filter({ hasText: 'The server refused the token (401)' }).waitFor();
    expect(await pageA.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('renders names from tokens as text, never as markup', async () => {
    // Act
    const name = '<img src=x onerror="window.pwned=1"><b>Eve</b>';
    await pageA.reload();
    await signIn(pageA, { workspace, user: 'eve', name });

    // Assess
    await waitForStatus(pageB, 'eve', 'online');
    expect(await pageB.getByTestId('roster-name-eve').textContent()).toBe(name);
    expect(await pageB.locator('main img, main b').count()).toBe(0);
    expect(await pageB.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
  });
});
