/** Debian's Chromium for the browser tests (playwright-core drives it; no downloaded browser). */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Where Debian installs it; scripts/prerequisites.mjs checks the same path before `npm test`. */
export const CHROMIUM = '/usr/bin/chromium';

export function assertChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the browser test needs Debian's Chromium; run apt-get install -y chromium (CI installs it)`);
  }
}

/** A headless Chromium for playwright pages. */
export function launchChromium(): Promise<Browser> {
  assertChromium();
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
}

/**
 * Saves the README's picture `docs/<name>` from `page` when PRESENCE_SCREENSHOTS=1, so an
 * ordinary test run leaves the working tree as it found it. The pointer moves away first: no
 * hover state in the picture.
 */
export async function readmePicture(page: Page, name: string): Promise<void> {
  if (process.env.PRESENCE_SCREENSHOTS !== '1') return;
  const docs = join(import.meta.dirname, '..', '..', 'docs');
  await mkdir(docs, { recursive: true });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(docs, name) });
}
