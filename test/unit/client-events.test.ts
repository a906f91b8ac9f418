/**
 * The client's listeners (client/src/events.ts): `on` and its unsubscribe, a throwing listener
 * that breaks nothing, and the store's snapshot, which changes only with the roster or the
 * connection state and whose listeners hear of exactly those.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresenceClientError } from '../../client/src/errors.ts';
import { Emitter } from '../../client/src/events.ts';
import type { RosterEntry } from '../../client/src/protocol.ts';
import type { Roster } from '../../client/src/roster.ts';
import type { ConnectionState } from '../../client/src/transport.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** What the store reads, as the client's getters give it. */
function source(): { roster: Roster; connectionState: ConnectionState; me: RosterEntry | undefined } {
  return { roster: new Map(), connectionState: 'closed', me: undefined };
}

describe('Emitter', () => {
  it('calls the listeners of an event with its arguments until they unsubscribe', () => {
    const emitter = new Emitter(source());
    const heard: string[] = [];
    const off = emitter.on('connection', (state) => heard.push(state));
    emitter.on('error', (error) => heard.push(error.code));

    emitter.emit('connection', 'open');
    emitter.emit('error', new PresenceClientError('timeout', 'late'));
    off();
    emitter.emit('connection', 'closed');

    expect(heard).toEqual(['open', 'timeout']);
  });

  it("a listener's error stops neither the other listeners nor the emitter; it is thrown later, where it can be seen", () => {
    vi.useFakeTimers();
    const emitter = new Emitter(source());
    const heard: string[] = [];
    emitter.on('connection', () => {
      throw new Error('listener bug');
    });
    emitter.on('connection', (state) => heard.push(state));

    expect(() => emitter.emit('connection', 'open')).not.toThrow();
    expect(heard).toEqual(['open']);
    expect(() => vi.runAllTimers()).toThrow('listener bug');
  });

  it("the store's listeners hear of roster and connection changes only, until they unsubscribe", () => {
    const emitter = new Emitter(source());
    let calls = 0;
    const unsubscribe = emitter.store.subscribe(() => calls++);

    emitter.emit('roster', new Map());
    emitter.emit('connection', 'open');
    emitter.emit('presence', { type: 'presence', userId: 'a', name: 'a', teams: [], status: 'online', previous: 'offline', reason: 'connect', at: 1, version: 1 });
    emitter.emit('error', new PresenceClientError('timeout', 'late'));
    emitter.emit('loggedOut', { type: 'loggedOut', at: 1 });
    expect(calls).toBe(2);

    unsubscribe();
    emitter.emit('roster', new Map());
    expect(calls).toBe(2);
  });

  it("the store's snapshot is frozen and the same value until the roster or the connection state changes", () => {
    const state = source();
    const emitter = new Emitter(state);
    const first = emitter.store.getSnapshot();
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toEqual({ roster: state.roster, connection: 'closed', me: undefined });

    // Only the roster's identity and the state count: a new `me` alone is no new snapshot.
    state.me = { userId: 'sam', name: 'sam', teams: [], status: 'online', since: 1, lastActiveAt: 1, version: 1 };
    expect(emitter.store.getSnapshot()).toBe(first);

    state.connectionState = 'open';
    const second = emitter.store.getSnapshot();
    expect(second).not.toBe(first);
    expect(second).toMatchObject({ connection: 'open', me: { userId: 'sam' } });

    state.roster = new Map();
    const third = emitter.store.getSnapshot();
    expect(third).not.toBe(second);
    expect(third.roster).toBe(state.roster);
    expect(emitter.store.getSnapshot()).toBe(third);
  });
});
