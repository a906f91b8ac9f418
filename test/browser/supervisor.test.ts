/**
 * Away reasons and supervisor controls on the team page in a real browser (Debian's Chromium
 * through playwright-core): an admin's page and an agent's page of one workspace. The agent picks
 * an away reason and the admin sees it; the admin sets the agent away with another reason, and the
 * agent's page says who did; a refused action is shown under the row; the admin signs the agent
 * out, and the agent's page says who did while the admin's shows the agent offline. Takes the
 * README's screenshot (docs/supervisor-page.png) with PRESENCE_SCREENSHOTS=1.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, readmePicture } from '#test/support/chromium.ts';
import { startTestStack, type TestStack } from '#test/support/stack.ts';

/** Playwright's own waits (auto-waiting locators) give up after this. */
const WAIT_MS = 5000;
const WORKSPACE = 'demo';
const REASONS = [
  { id: 'lunch', label: 'Lunch', emoji: '🍔' },
  // No emoji: Debian's Chromium has no emoji font, and this one is in the screenshot.
  { id: 'meeting', label: 'Meeting' },
  { id: 'training', label: 'Training' },
];

let stack: TestStack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack(), launchChromium()]);
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close().catch(() => {})));
  await browser?.close();
  await stack?.stop();
});

/** The workspace's away reasons, set through the settings route with an admin's token. */
async function putAwayReasons(reasons: typeof REASONS): Promise<void> {
  const token = await stack.token({ workspace: WORKSPACE, user: 'dana', role: 'admin' });
  const response = await fetch(`${stack.httpUrl}/workspaces/${WORKSPACE}/settings`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ awayReasons: reasons }),
  });
  expect(response.status).toBe(200);
  expect(((await response.json()) as { awayReasons: unknown }).awayReasons).toEqual(reasons);
}

async function signedIn(fields: { user: string; name: string; admin?: boolean }): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 400 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.goto(stack.httpUrl);
  await page.getByLabel('User id', { exact: true }).fill(fields.user);
  await page.getByLabel('Display name', { exact: true }).fill(fields.name);
  if (fields.admin) await page.getByTestId('sign-in-admin').check();
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  return page;
}

/** Waits until `page` shows `userId` with `status` and exactly `text` as its status. */
async function waitForRow(page: Page, userId: string, status: 'online' | 'away' | 'offline', text: string): Promise<void> {
  await page.locator(`[data-testid="roster-row-${userId}"][data-status="${status}"]`).waitFor();
  await expect.poll(() => page.getByTestId(`roster-status-${userId}`).textContent(), { timeout: WAIT_MS }).toBe(text);
}

it("lets an admin set an agent's status with a reason and sign them out, and both pages say who did", async () => {
  // Prepare: the workspace's reasons, a third agent (so the admin supervises more than one), the two pages.
  await putAwayReasons(REASONS);
  const bob = await stack.connect({ workspace: WORKSPACE, user: 'bob', name: 'Bob Okafor', teams: ['support'] });
  await stack.deliver(bob, { action: 'setStatus', status: 'away', awayReason: 'lunch' });
  const [admin, agent] = await Promise.all([
    signedIn({ user: 'dana', name: 'Dana Supervisor', admin: true }),
    signedIn({ user: 'alice', name: 'Alice Martin' }),
  ]);
  await Promise.all([waitForRow(admin, 'alice', 'online', 'Online'), waitForRow(agent, 'dana', 'online', 'Online'), waitForRow(admin, 'bob', 'away', 'Away: Lunch')]);
  // The picker offers the workspace's reasons; only the admin's page has supervisor controls, and not on their own row.
  await expect
    .poll(() => agent.getByTestId('status-picker').locator('option').allTextContents(), { timeout: WAIT_MS })
    .toEqual(['Online', 'Away', 'Away: 🍔 Lunch', 'Away: Meeting', 'Away: Training']);
  expect(await agent.getByRole('button', { name: 'Set away' }).count()).toBe(0);
  expect(await admin.getByRole('group', { name: 'Supervise Bob Okafor' }).count()).toBe(1);
  expect(await admin.getByTestId('roster-row-dana').getByRole('button').count()).toBe(0);

  // Act: the agent picks "Away: Lunch".
  await agent.getByLabel('Status', { exact: true }).selectOption({ label: 'Away: 🍔 Lunch' });

  // Assess: both pages show the reason's label; nobody else set it.
  await waitForRow(admin, 'alice', 'away', 'Away: Lunch');
  await waitForRow(agent, 'alice', 'away', 'Away: Lunch');

  // Act: the admin sets the agent away with "Meeting".
  const supervise = admin.getByRole('group', { name: 'Supervise Alice Martin' });
  await supervise.getByRole('combobox', { name: 'Away reason for Alice Martin' }).selectOption({ label: 'Meeting' });
  await supervise.getByRole('button', { name: 'Set away' }).click();

  // Assess: the agent's page says who; the picker follows; the admin's page says "you".
  await waitForRow(agent, 'alice', 'away', 'Away: Meeting, set by Dana Supervisor');
  expect(await agent.getByTestId('status-picker').inputValue()).toBe('away:meeting');
  await waitForRow(admin, 'alice', 'away', 'Away: Meeting, set by you');
  await readmePicture(admin, 'supervisor-page.png');

  // Act: a reason removed since the admin's page read them is refused by the server.
  await putAwayReasons(REASONS.slice(0, 2));
  await supervise.getByRole('combobox', { name: 'Away reason for Alice Martin' }).selectOption({ label: 'Training' });
  await supervise.getByRole('button', { name: 'Set away' }).click();

  // Assess: the server's message under the row; nothing changed; the page read the reasons again.
  const refusal = admin.getByTestId('supervise-error-alice');
  await refusal.filter({ hasText: /^Could not set away Alice Martin: .*training/ }).waitFor();
  await expect
    .poll(() => supervise.getByRole('combobox').locator('option').allTextContents(), { timeout: WAIT_MS })
    .toEqual(['No reason', '🍔 Lunch', 'Meeting']);
  expect(await admin.getByTestId('roster-status-alice').textContent()).toBe('Away: Meeting, set by you');

  // Act: the admin sets the agent online (the refusal goes away), then signs them out.
  await supervise.getByRole('button', { name: 'Set online' }).click();
  await waitForRow(agent, 'alice', 'online', 'Online, set by Dana Supervisor');
  await refusal.waitFor({ state: 'hidden' });
  await supervise.getByRole('button', { name: 'Sign out' }).click();

  // Assess: the agent's page is back at sign-in saying who; the admin's page shows the agent offline.
  await agent.getByTestId('demo-sign-in').waitFor();
  expect(await agent.getByTestId('sign-in-error').textContent()).toBe('Signed out by Dana Supervisor.');
  expect(await agent.evaluate(() => sessionStorage.length)).toBe(0);
  await waitForRow(admin, 'alice', 'offline', 'Offline · signed out by you');
  expect(await admin.getByTestId('status-dot-alice').getAttribute('aria-label')).toBe('Offline · signed out by you');
}, 60_000);
