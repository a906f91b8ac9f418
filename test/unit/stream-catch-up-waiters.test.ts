/**
 * drained()'s waiters on one shard (local/stream/catch-up-waiters.ts): only an empty answer to a
 * GetRecords call that started after a waiter began releases it; the shard's end releases all,
 * the reader's stop rejects all.
 */
import { describe, expect, it } from 'vitest';
import { CatchUpWaiters } from '#local/stream/catch-up-waiters.ts';

/** Whether the promise has resolved ('resolved'), rejected ('rejected') or neither yet ('waiting'). */
async function stateOf(promise: Promise<void>): Promise<'resolved' | 'rejected' | 'waiting'> {
  const waiting = Symbol('waiting');
  const outcome = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<typeof waiting>((resolve) => setImmediate(() => resolve(waiting))),
  ]);
  return outcome === waiting ? 'waiting' : outcome;
}

describe('CatchUpWaiters', () => {
  it('releases a waiter on the empty answer of a call that started after it began, not before', async () => {
    const waiters = new CatchUpWaiters();
    waiters.arm(); // a call already in flight when the wait begins
    const waiter = waiters.wait();

    waiters.releaseArmed(); // that call's empty answer
    expect(await stateOf(waiter)).toBe('waiting');

    waiters.arm(); // the next call starts
    waiters.releaseArmed(); // and comes back empty
    expect(await stateOf(waiter)).toBe('resolved');
  });

  it('keeps the waiters that began after the call started, and releases the armed ones in order', async () => {
    const waiters = new CatchUpWaiters();
    const released: string[] = [];
    const first = waiters.wait().then(() => released.push('first'));
    const second = waiters.wait().then(() => released.push('second'));
    waiters.arm();
    const late = waiters.wait().then(() => released.push('late'));

    waiters.releaseArmed();
    await Promise.all([first, second]);
    expect(released).toEqual(['first', 'second']);
    expect(await stateOf(late.then(() => undefined))).toBe('waiting');

    waiters.arm();
    waiters.releaseArmed();
    await late;
    expect(released).toEqual(['first', 'second', 'late']);
  });

  it('releases every waiter, armed or not, when the shard ends', async () => {
    const waiters = new CatchUpWaiters();
    const armed = waiters.wait();
    waiters.arm();
    const unarmed = waiters.wait();

    waiters.releaseAll();

    expect(await stateOf(armed)).toBe('resolved');
    expect(await stateOf(unarmed)).toBe('resolved');
  });

  it('rejects every waiter with an error of its own when the reader stops', async () => {
    const waiters = new CatchUpWaiters();
    const one = waiters.wait();
    waiters.arm();
    const two = waiters.wait();
    let made = 0;

    waiters.rejectAll(() => new Error(`stopped ${++made}`));

    await expect(one).rejects.toThrow('stopped 1');
    await expect(two).rejects.toThrow('stopped 2');
  });
});
