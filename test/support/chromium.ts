/** Debian's Chromium for the browser tests (playwright-core drives it; no downloaded browser). */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

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
