/** A clock tests and the bench drive by hand, and a logger that says nothing; no test runner needed. */
import type { Logger } from '#app/ports.ts';

export class ManualClock {
  constructor(public current = Date.UTC(2026, 10, 25, 9, 0, 0)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
