/**
 * The sweeper, invoked once a minute: it runs a pass every sweep interval until its window is
 * used, so a 1-minute schedule still gives interval precision, and stops before the Lambda timeout.
 */
import type { Context } from 'aws-lambda';
import type { Ports } from '#app/ports.ts';
import { sweep } from '#app/sweep.ts';

export interface SweeperDeps {
  ports: Ports;
  sleep: (ms: number) => Promise<void>;
  /** The schedule period: passes start within this window after the invocation started. */
  windowMs: number;
  /** Time kept free before the Lambda timeout for the last pass to finish. */
  reserveMs: number;
  /**
   * Each pass also takes what falls due before the next one and expires it at its deadline
   * (waiting with `sleep`), so detection does not wait for the next pass. Off where a test drives
   * a manual clock pass by pass.
   */
  lookAhead?: boolean;
  /** True once the host is stopping (the local stack): waits for deadlines end at once. */
  stopping?: () => boolean;
}

export interface SweeperResult {
  passes: number;
  transitions: number;
  read: number;
}

/** How long before the end of its window the Lambda sweeper stops waiting for deadlines. */
const LOOK_AHEAD_MARGIN_MS = 1_000;

export function makeSweeperHandler(deps: SweeperDeps) {
  const { ports, sleep, windowMs, reserveMs } = deps;
  const interval = ports.config.sweepIntervalMs;
  // Timers can fire a millisecond early; a deadline expires only once it has passed.
  const waitUntil = async (at: number) => {
    while (ports.clock.now() < at && !deps.stopping?.()) await sleep(Math.max(1, at - ports.clock.now()));
  };
  return async (_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SweeperResult> => {
    const result: SweeperResult = { passes: 0, transitions: 0, read: 0 };
    const startedAt = ports.clock.now();
    // In Lambda, no pass waits past LOOK_AHEAD_MARGIN_MS before the end of the window: the next
    // scheduled invocation starts then, and with a reserved concurrency of 1 it would be throttled
    // (and retried with backoff) while this one still runs. Its first pass takes what is left.
    const lookAheadFor = (passStartedAt: number) =>
      context ? Math.max(0, Math.min(interval, startedAt + windowMs - LOOK_AHEAD_MARGIN_MS - passStartedAt)) : interval;
    for (;;) {
      const passStartedAt = ports.clock.now();
      const report = await sweep(ports, deps.lookAhead ? { lookAheadMs: lookAheadFor(passStartedAt), waitUntil } : {});
      result.passes++;
      result.transitions += report.transitions;
      result.read += report.read;
      const nextStart = passStartedAt + interval;
      const remaining = context ? context.getRemainingTimeInMillis() : 0;
      const afterWait = remaining - Math.max(0, nextStart - ports.clock.now());
      // Without a Lambda context (the local timer) one pass per call.
      if (!context || nextStart - startedAt >= windowMs || afterWait < reserveMs) break;
      await sleep(Math.max(0, nextStart - ports.clock.now()));
    }
    if (result.transitions > 0) ports.logger.info('sweep', { ...result });
    return result;
  };
}
