/**
 * The local stack's sweeper (local/sweeper-timer.ts) around a stand-in for the sweeper handler:
 * the handler's settings with and without the timer, passes that never overlap, the fixed rate,
 * a failed pass, and stop().
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Ports } from '#app/ports.ts';
import type { SweeperDeps, SweeperResult } from '#handlers/sweeper.ts';
import { startSweeper } from '#local/sweeper-timer.ts';
import { silentLogger } from '#test/support/clock.ts';

const handler = vi.hoisted(() => ({
  deps: undefined as SweeperDeps | undefined,
  pass: (): Promise<SweeperResult> => Promise.resolve({ passes: 1, transitions: 0, read: 0 } as SweeperResult),
}));
vi.mock('#handlers/sweeper.ts', () => ({
  makeSweeperHandler: (deps: SweeperDeps) => {
    handler.deps = deps;
    return () => handler.pass();
  },
}));

const INTERVAL_MS = 1_000;
const ports = { config: { sweepIntervalMs: INTERVAL_MS } } as Ports;
const result = (passes: number) => ({ passes, transitions: 0, read: 0 }) as SweeperResult;

/** Passes that take `ms` of (fake) time each, their start times recorded. */
function passesTaking(ms: number) {
  const starts: number[] = [];
  handler.pass = () => {
    starts.push(Date.now());
    return new Promise((resolve) => setTimeout(() => resolve(result(starts.length)), ms));
  };
  return starts;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('startSweeper without the timer', () => {
  it('sweeps only on call, what is already due: no look-ahead, no wait, nothing to stop', async () => {
    const starts = passesTaking(0);
    const sweeper = startSweeper({ ports, timed: false, logger: silentLogger });

    await vi.advanceTimersByTimeAsync(10 * INTERVAL_MS);
    expect(starts).toEqual([]);
    expect(handler.deps).toMatchObject({ ports, windowMs: 0, reserveMs: 0, lookAhead: false });
    const sleeping = handler.deps!.sleep(60_000);
    await vi.advanceTimersByTimeAsync(0);
    await expect(sleeping).resolves.toBeUndefined();

    const sweeping = sweeper.sweep();
    await vi.advanceTimersByTimeAsync(0);
    await expect(sweeping).resolves.toEqual(result(1));
    await sweeper.stop();
    expect(handler.deps!.stopping!()).toBe(false);
  });

  it('never runs two passes at once: a second call waits for the one in flight', async () => {
    const first = deferred<SweeperResult>();
    const order: string[] = [];
    handler.pass = async () => {
      order.push('start');
      if (order.length > 1) return result(2);
      const value = await first.promise;
      order.push('end');
      return value;
    };
    const sweeper = startSweeper({ ports, timed: false, logger: silentLogger });

    const one = sweeper.sweep();
    const two = sweeper.sweep();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['start']);
    first.resolve(result(1));

    expect(await one).toEqual(result(1));
    expect(await two).toEqual(result(2));
    expect(order).toEqual(['start', 'end', 'start']);
  });
});

describe('startSweeper with the timer', () => {
  it('looks ahead and waits for deadlines, as the Lambda sweeper does', () => {
    const sweeper = startSweeper({ ports, timed: true, logger: silentLogger });

    expect(handler.deps).toMatchObject({ windowMs: 0, reserveMs: 0, lookAhead: true });
    void sweeper.stop();
  });

  it('starts a pass one interval after the previous one started, or at once if that one took longer', async () => {
    const starts: number[] = [];
    let passMs = 300;
    handler.pass = () => {
      starts.push(Date.now());
      return new Promise((resolve) => setTimeout(() => resolve(result(starts.length)), passMs));
    };
    const sweeper = startSweeper({ ports, timed: true, logger: silentLogger });

    await vi.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    expect(starts).toEqual([1_000, 2_000, 3_000]);

    // Longer passes: the next starts as the timer's next turn after the previous one ends (1 ms).
    passMs = 1_500;
    await vi.advanceTimersByTimeAsync(4 * INTERVAL_MS + 100);
    expect(starts).toEqual([1_000, 2_000, 3_000, 4_000, 5_501, 7_002]);
    const stopped = sweeper.stop(); // once the pass in flight ends
    await vi.advanceTimersByTimeAsync(passMs);
    await stopped;
  });

  it('logs a failed pass and keeps the timer going', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    handler.pass = () => (++calls === 1 ? Promise.reject(new Error('table gone')) : Promise.resolve(result(calls)));
    const sweeper = startSweeper({ ports, timed: true, logger: { ...silentLogger, error: (message, extra) => void errors.push([message, extra]) } });

    await vi.advanceTimersByTimeAsync(2 * INTERVAL_MS);

    expect(errors).toEqual([['sweep failed', { error: 'Error: table gone' }]]);
    expect(calls).toBe(2);
    await sweeper.stop();
  });

  it('stop() ends the timer and a pass\'s wait at once, and resolves once the pass in flight is done', async () => {
    const sweeper = startSweeper({ ports, timed: true, logger: silentLogger });
    const deps = handler.deps!;
    let waited: Promise<void> | undefined;
    const done = deferred<SweeperResult>();
    let calls = 0;
    handler.pass = () => {
      calls += 1;
      waited = deps.sleep(60_000);
      return done.promise;
    };
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(calls).toBe(1);

    let stopped = false;
    const stopping = sweeper.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    await expect(waited).resolves.toBeUndefined();
    expect(deps.stopping!()).toBe(true);
    expect(stopped).toBe(false);

    done.resolve(result(1));
    await stopping;
    await vi.advanceTimersByTimeAsync(10 * INTERVAL_MS);
    expect(calls).toBe(1);
  });
});
