/** Waiting on a PresenceClient's events in tests, never on time. */
import type { PresenceClient } from '../../client/src/index.ts';

/**
 * Resolves when `check` holds, re-checking on every event of the client; fails after `timeoutMs`.
 * It reads the client's state now, not a history of messages: a check that already held before
 * the action under test proves nothing, so wait for a state the action changes (or count events
 * from a listener added before it).
 */
export function until(client: PresenceClient, check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = [];
    const done = (error?: Error) => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const recheck = () => check() && done();
    offs.push(client.on('roster', recheck), client.on('connection', recheck), client.on('presence', recheck), client.on('error', recheck));
  });
}
