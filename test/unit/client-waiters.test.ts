/**
 * The client's pending requests (client/src/waiters.ts): a server message resolves the oldest
 * request it answers; timeouts, a connection's last word and close; and calls waiting for the
 * connection to be ready.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServerMessage } from '../../client/src/protocol.ts';
import { ReadyWaiters, Waiters } from '../../client/src/waiters.ts';

const error = (code: string): ServerMessage => ({ type: 'error', code, message: `${code}!` });
const loggedOut: ServerMessage = { type: 'loggedOut', at: 1 };
const isError = (message: ServerMessage) => message.type === 'error';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Waiters', () => {
  it('resolves the oldest waiter a message answers, one per message; false when none does', async () => {
    const waiters = new Waiters(1000);
    const first = waiters.waitFor(isError);
    const second = waiters.waitFor(isError);

    expect(waiters.resolveWaiters(loggedOut)).toBe(false);
    expect(waiters.resolveWaiters(error('a'))).toBe(true);
    expect(waiters.resolveWaiters(error('b'))).toBe(true);
    expect(waiters.resolveWaiters(error('c'))).toBe(false);

    await expect(first).resolves.toMatchObject({ code: 'a' });
    await expect(second).resolves.toMatchObject({ code: 'b' });
  });

  it('rejects with timeout after its time, and is no longer waiting', async () => {
    const waiters = new Waiters(1000);
    const waiting = waiters.waitFor(isError);
    const outcome = expect(waiting).rejects.toMatchObject({ name: 'PresenceClientError', code: 'timeout', message: 'no answer from the server within 1000 ms' });

    await vi.advanceTimersByTimeAsync(1000);

    await outcome;
    expect(waiters.resolveWaiters(error('late'))).toBe(false);
  });

  it('a resolved waiter never times out', async () => {
    const waiters = new Waiters(1000);
    const waiting = waiters.waitFor(isError);
    waiters.resolveWaiters(error('a'));

    await vi.advanceTimersByTimeAsync(5000);

    await expect(waiting).resolves.toMatchObject({ code: 'a' });
  });

  it('resolveMatching resolves every waiter the message answers, and leaves the others', async () => {
    const waiters = new Waiters(1000);
    const first = waiters.waitFor(isError);
    const second = waiters.waitFor(isError);
    const other = waiters.waitFor((message) => message.type === 'loggedOut');

    waiters.resolveMatching(error('token_expired'));

    await expect(first).resolves.toMatchObject({ code: 'token_expired' });
    await expect(second).resolves.toMatchObject({ code: 'token_expired' });
    expect(waiters.resolveWaiters(loggedOut)).toBe(true);
    await expect(other).resolves.toEqual(loggedOut);
  });

  it('resolveAll with a closed error rejects every waiter with closed, whatever it waits for', async () => {
    const waiters = new Waiters(1000);
    const forError = waiters.waitFor(isError);
    const forLogout = waiters.waitFor((message) => message.type === 'loggedOut');

    waiters.resolveAll({ type: 'error', code: 'closed', message: 'the client was closed' });

    await expect(forError).rejects.toMatchObject({ code: 'closed', message: 'the client was closed' });
    await expect(forLogout).rejects.toMatchObject({ code: 'closed' });
    expect(waiters.resolveWaiters(loggedOut)).toBe(false);
  });
});

describe('ReadyWaiters', () => {
  it('resolves at once when ready, else when resolveAll is called', async () => {
    const ready = new ReadyWaiters();
    await ready.wait(true);
    let done = false;
    const waiting = ready.wait(false).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(done).toBe(false);

    ready.resolveAll();

    await waiting;
    expect(done).toBe(true);
  });

  it('rejectAll rejects every waiter with the error', async () => {
    const ready = new ReadyWaiters();
    const first = ready.wait(false);
    const second = ready.waitWithin(false, 1000);
    const closed = new Error('closed') as never;

    ready.rejectAll(closed);

    await expect(first).rejects.toBe(closed);
    await expect(second).rejects.toBe(closed);
  });

  it('waitWithin rejects with timeout after its time, and is no longer waiting', async () => {
    const ready = new ReadyWaiters();
    const waiting = ready.waitWithin(false, 1000);
    const outcome = expect(waiting).rejects.toMatchObject({ code: 'timeout', message: 'no connection within 1000 ms' });

    await vi.advanceTimersByTimeAsync(1000);

    await outcome;
    ready.rejectAll(new Error('none left') as never); // nothing waits: no unhandled rejection
  });

  it('waitWithin resolves at once when ready, and when resolved in time never times out', async () => {
    const ready = new ReadyWaiters();
    await ready.waitWithin(true, 1000);
    const waiting = ready.waitWithin(false, 1000);

    ready.resolveAll();
    await vi.advanceTimersByTimeAsync(5000);

    await expect(waiting).resolves.toBeUndefined();
  });
});
