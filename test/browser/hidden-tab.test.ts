/**
 * The team page's client keeps the agent present while its tab is hidden: the SDK's Worker timer
 * keeps heartbeating, so with a lease of a few (manual) seconds a teammate never sees the agent
 * time out; showing the tab again sends an active heartbeat at once.
 *
 * Playwright's own launch keeps every page visible (its focus emulation holds pages "captured"),
 * so this test starts Debian's Chromium itself and attaches over CDP with `noDefaults`: pages
 * then get hidden for real when another tab of the window comes to the front, as a user's do.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page, type WebSocket as PageSocket } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertChromium, CHROMIUM } from '#test/support/chromium.ts';
import { type Client, startTestStack, type TestStack } from '#test/support/stack.ts';

const WAIT_MS = 5000;
/** The stack's lease; the page heartbeats every third of it (1 s of real time). */
const LEASE_SECONDS = 3;
/** Each step moves the manual clock by most of a lease: two steps without a heartbeat are a timeout. */
const STEP_MS = LEASE_SECONDS * 1000 - 500;
const STEPS = 4;

let stack: TestStack;
let chromiumProcess: ChildProcess | undefined;
let profile: string | undefined;
let browser: Browser;

/** Starts Chromium with DevTools on a free loopback port; resolves with its endpoint. */
async function launchChromium(): Promise<string> {
  profile = await mkdtemp(join(tmpdir(), 'presence-chromium-'));
  const child = spawn(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  chromiumProcess = child;
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not open DevTools within ${WAIT_MS} ms: ${output}`)), WAIT_MS);
    child.once('exit', (code) => reject(new Error(`Chromium exited (${code}): ${output}`)));
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const endpoint = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(output)?.[1];
      if (endpoint) {
        clearTimeout(timer);
        resolve(endpoint);
      }
    });
  });
}

beforeAll(async () => {
  assertChromium();
  const [started, endpoint] = await Promise.all([
    // Idle far away: a hidden tab reports no activity, and only the lease is under test.
    startTestStack({ env: { PRESENCE_CONNECTION_LEASE_SECONDS: String(LEASE_SECONDS), PRESENCE_IDLE_TIMEOUT_SECONDS: '600' } }),
    launchChromium(),
  ]);
  stack = started;
  browser = await chromium.connectOverCDP(endpoint, { noDefaults: true });
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (chromiumProcess && chromiumProcess.exitCode === null) {
    const exited = new Promise((resolve) => chromiumProcess?.once('exit', resolve));
    chromiumProcess.kill();
    await exited;
  }
  // Chromium's helper processes can still write to the profile for a moment after the browser exits.
  if (profile) await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  await stack?.stop();
});

interface SentFrame {
  data: string;
  visibility: DocumentVisibilityState;
  /** Sent while a `visibilitychange` event was being dispatched: at once, not by a timer. */
  inVisibilityChange: boolean;
}

const isHeartbeat = (data: string | Buffer) => typeof data === 'string' && (JSON.parse(data) as { action?: string }).action === 'heartbeat';

describe('team page in a hidden tab', () => {
  const workspace = 'demo';
  let page: Page;
  let socket: PageSocket;
  /** The teammate who watches, through all three steps: the suite's, not one test's. */
  let bob: Client;
  let aliceConnection: string;

  beforeAll(async () => {
    bob = await stack.connect({ workspace, user: 'bob', name: 'Bob' });
  });
  afterAll(async () => {
    await bob?.close();
  });

  /** The emulator received a frame from alice at the current manual time (management API). */
  async function heardFromAliceNow(): Promise<void> {
    const now = new Date(stack.clock.now()).toISOString();
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the emulator got no frame from alice at ${now} within ${WAIT_MS} ms`);
      const response = await fetch(`${stack.emulator.managementUrl}/@connections/${aliceConnection}`);
      expect(response.status).toBe(200);
      const { lastActiveAt } = (await response.json()) as { lastActiveAt: string };
      if (lastActiveAt === now) break;
    }
    await stack.delivered();
  }

  /** Every offline of alice bob ever heard (his whole history, on purpose: she must never go offline). */
  const aliceOffline = () => bob.messages.filter((message) => message.type === 'presence' && message.userId === 'alice' && message.status === 'offline');

  it('signs in an agent whose teammate sees them online', async () => {
    // Prepare: the page that records what its client sends.
    const before = new Set(stack.emulator.connectionIds());
    const context = browser.contexts()[0]!;
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.addInitScript(() => {
      const sent: Array<{ data: string; visibility: DocumentVisibilityState; inVisibilityChange: boolean }> = [];
      (window as unknown as { sentFrames: typeof sent }).sentFrames = sent;
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
        const current = (window as unknown as { event?: Event }).event;
        sent.push({ data: String(data), visibility: document.visibilityState, inVisibilityChange: current?.type === 'visibilitychange' });
        return send.call(this, data);
      };
      // Counts the timers the SDK starts in a Worker (the ones background tabs do not slow down).
      const NativeWorker = window.Worker;
      (window as unknown as { workersStarted: number }).workersStarted = 0;
      window.Worker = class extends NativeWorker {
        constructor(url: string | URL, options?: WorkerOptions) {
          super(url, options);
          (window as unknown as { workersStarted: number }).workersStarted++;
        }
      };
    });
    await page.goto(stack.httpUrl);

    // Act
    await page.getByLabel('User id', { exact: true }).fill('alice');
    await page.getByLabel('Display name', { exact: true }).fill('Alice');
    [socket] = await Promise.all([page.waitForEvent('websocket'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);

    // Assess
    await page.locator('[data-testid="roster-row-bob"][data-status="online"]').waitFor();
    await bob.next('presence', (message) => message.userId === 'alice' && message.status === 'online');
    const added = stack.emulator.connectionIds().filter((id) => !before.has(id));
    expect(added).toHaveLength(1);
    aliceConnection = added[0]!;
    // The page runs the SDK's heartbeat timer in a Worker, not on the page's own timers.
    expect(await page.evaluate(() => (window as unknown as { workersStarted: number }).workersStarted)).toBe(1);
  });

  it('keeps heartbeating while hidden, so the agent never times out', async () => {
    // Prepare: another tab of the window comes to the front; the page is hidden as a user's would be.
    const other = await browser.contexts()[0]!.newPage();
    await other.bringToFront();
    expect(await page.evaluate(() => document.visibilityState)).toBe('hidden');
    const sentBefore = await page.evaluate(() => (window as unknown as { sentFrames: SentFrame[] }).sentFrames.length);

    for (let step = 0; step < STEPS; step++) {
      // Act: most of a lease passes since the last heartbeat the server handled; the sweeper runs.
      stack.clock.advance(STEP_MS);
      await stack.sweep();

      // Assess: still online for the teammate, and the hidden page's next heartbeat arrives.
      expect(aliceOffline()).toEqual([]);
      await socket.waitForEvent('framesent', { predicate: (frame) => isHeartbeat(frame.payload), timeout: WAIT_MS });
      await heardFromAliceNow();
      await stack.deliver(bob, { action: 'heartbeat', active: true });
    }

    // Assess: the server's exact view agrees, and the beats came from the hidden page's timer.
    const response = await fetch(`${stack.httpUrl}/workspaces/${workspace}/agents/alice`, {
      headers: { authorization: `Bearer ${await stack.token({ workspace, user: 'bob' })}` },
    });
    expect(((await response.json()) as { status: string }).status).toBe('online');
    const hiddenBeats = (await page.evaluate(() => (window as unknown as { sentFrames: SentFrame[] }).sentFrames))
      .slice(sentBefore)
      .filter((frame) => isHeartbeat(frame.data));
    expect(hiddenBeats.length).toBeGreaterThanOrEqual(STEPS);
    // No activity in a hidden tab: the timer's beats say so.
    expect(hiddenBeats.every((frame) => frame.visibility === 'hidden' && JSON.parse(frame.data).active === false)).toBe(true);
  });

  it('sends an active heartbeat at once when the tab is shown again', async () => {
    // Prepare
    const sentBefore = await page.evaluate(() => (window as unknown as { sentFrames: SentFrame[] }).sentFrames.length);
    const activeBeat = socket.waitForEvent('framesent', {
      predicate: (frame) => isHeartbeat(frame.payload) && JSON.parse(String(frame.payload)).active === true,
      timeout: WAIT_MS,
    });

    // Act
    await page.bringToFront();

    // Assess: the server got it, and the page sent it while handling visibilitychange, not later.
    await activeBeat;
    expect(await page.evaluate(() => document.visibilityState)).toBe('visible');
    const shown = (await page.evaluate(() => (window as unknown as { sentFrames: SentFrame[] }).sentFrames)).slice(sentBefore);
    const first = shown.find((frame) => frame.data.includes('"active":true'));
    expect(first).toMatchObject({ visibility: 'visible', inVisibilityChange: true });
    expect(JSON.parse(first!.data)).toEqual({ action: 'heartbeat', active: true });
    expect(aliceOffline()).toEqual([]);
  });
});
