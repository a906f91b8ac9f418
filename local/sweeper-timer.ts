/**
 * The local stack's sweeper: the Lambda sweeper's handler on a timer, as its schedule runs it, or
 * only on call (tests with a manual clock). Passes never overlap; stopping ends a pass's wait.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger, Ports } from '#app/ports.ts';
import { makeSweeperHandler, type SweeperResult } from '#handlers/sweeper.ts';

export interface LocalSweeper {
  /** One sweep pass now, after the one in flight if any. */
  sweep(): Promise<SweeperResult>;
  /** Stops the timer, ends a pass's wait and waits for the pass in flight; nothing to stop without the timer. */
  stop(): Promise<void>;
}

/** `timed`: a pass every `ports.config.sweepIntervalMs`, the first one interval from now. */
export function startSweeper({ ports, timed, logger }: { ports: Ports; timed: boolean; logger: Logger }): LocalSweeper {
  // With the timer (real time), each pass expires what falls due before the next at its deadline,
  // as the Lambda sweeper does; a test driving a manual clock sweeps only what is already due.
  // Stopping ends a pass's wait at once: what it waited for is not yet due, so it expires nothing.
  const stopWaits = new AbortController();
  const sleep = (ms: number) => delay(ms, undefined, { signal: stopWaits.signal }).catch(() => undefined);
  const sweeper = makeSweeperHandler({
    ports,
    sleep: timed ? sleep : async () => {},
    windowMs: 0,
    reserveMs: 0,
    lookAhead: timed,
    stopping: () => stopWaits.signal.aborted,
  });
  let sweeping: Promise<SweeperResult> | undefined;
  // Passes never overlap: a second call waits for the one in flight.
  const sweep = async (): Promise<SweeperResult> => {
    while (sweeping) await sweeping.catch(() => {});
    sweeping = sweeper();
    try {
      return await sweeping;
    } finally {
      sweeping = undefined;
    }
  };
  if (!timed) return { sweep, stop: async () => {} };

  let timer: NodeJS.Timeout | undefined;
  let running = true;
  // Fixed rate, as the Lambda sweeper: a pass starts one interval after the previous one
  // started (at once if that one took longer), so each pass's look-ahead meets the next.
  const tick = () => {
    const startedAt = Date.now();
    sweep()
      .catch((error: unknown) => logger.error('sweep failed', { error: String(error) }))
      .finally(() => {
        if (running) timer = setTimeout(tick, Math.max(0, startedAt + ports.config.sweepIntervalMs - Date.now()));
      });
  };
  timer = setTimeout(tick, ports.config.sweepIntervalMs);
  return {
    sweep,
    stop: async () => {
      running = false;
      clearTimeout(timer);
      stopWaits.abort();
      while (sweeping) await sweeping.catch(() => {});
    },
  };
}
