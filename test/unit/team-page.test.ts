/** The team page's pure parts: reasons kept with the SDK's roster, roster order, initials, token reading. */
import { describe, expect, it } from 'vitest';
import type { PresenceEvent, RosterEntry } from '../../client/src/index.ts';
import { type HeardPresence, hear, sortRoster, withReasons } from '#local/page/roster.ts';
import { decodeToken, SignInError, sessionFromToken } from '#local/page/session.ts';
import { initials } from '#local/page/view.ts';

const T = 1_764_000_000_000;

function entry(userId: string, fields: Partial<RosterEntry> = {}): RosterEntry {
  return { userId, name: userId, teams: [], status: 'online', since: T, lastActiveAt: T, version: 1, ...fields };
}

function roster(...entries: RosterEntry[]): Map<string, RosterEntry> {
  return new Map(entries.map((value) => [value.userId, value]));
}

function presence(userId: string, status: PresenceEvent['status'], at: number, reason: PresenceEvent['reason']): PresenceEvent {
  return { type: 'presence', userId, name: userId, teams: [], status, previous: 'online', reason, at, version: 2 };
}

function token(claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part(claims)}.signature`;
}

describe('roster', () => {
  it('orders online, then away, then offline, by name within each, user id breaking ties', () => {
    const entries = [
      entry('z', { name: 'zoe', status: 'offline' }),
      entry('b', { name: 'Bob', status: 'away' }),
      entry('c2', { name: 'Carla', status: 'online' }),
      entry('c1', { name: 'carla', status: 'online' }),
      entry('a', { name: 'Anna', status: 'online' }),
    ];
    expect(sortRoster(entries).map((value) => value.userId)).toEqual(['a', 'c1', 'c2', 'b', 'z']);
  });

  it('gives an entry the reason of the presence message that made it what it is', () => {
    const heard = new Map<string, HeardPresence>();
    hear(heard, presence('alice', 'offline', T + 10, 'idle'));
    hear(heard, presence('bob', 'away', T + 20, 'manual'));
    const shown = withReasons(roster(entry('alice', { status: 'offline', since: T + 10 }), entry('bob', { status: 'away', since: T + 20 }), entry('carol')), heard);
    expect(shown.get('alice')).toMatchObject({ userId: 'alice', status: 'offline', reason: 'idle' });
    expect(shown.get('bob')?.reason).toBe('manual');
    // Only a snapshot told us about carol: no reason.
    expect(shown.get('carol')?.reason).toBeNull();
  });

  it('drops a reason once the entry holds a change the page did not hear', () => {
    // Heard: alice went idle. While reconnecting she came back and logged out; the snapshot says offline since later.
    const heard = new Map<string, HeardPresence>();
    hear(heard, presence('alice', 'offline', T, 'idle'));
    expect(withReasons(roster(entry('alice', { status: 'offline', since: T + 50 })), heard).get('alice')?.reason).toBeNull();
    expect(withReasons(roster(entry('alice', { status: 'online', since: T + 50 })), heard).get('alice')?.reason).toBeNull();
    // A later message replaces the earlier one.
    hear(heard, presence('alice', 'offline', T + 50, 'logout'));
    expect(withReasons(roster(entry('alice', { status: 'offline', since: T + 50 })), heard).get('alice')?.reason).toBe('logout');
  });
});

describe('initials', () => {
  it('takes the first letters of the first and last words of the name, else of the id', () => {
    expect(initials('Alice Martin', 'alice')).toBe('AM');
    expect(initials('Jean-Luc de la Vega', 'jl')).toBe('JV');
    expect(initials('bob', 'bob')).toBe('B');
    expect(initials('  ', 'zed')).toBe('ZE');
    expect(initials('émile zola', 'ez')).toBe('ÉZ');
  });
});

describe('tokens on the page', () => {
  it('reads user, workspace and name from a JWT without verifying it', () => {
    const session = sessionFromToken(token({ sub: 'alice', workspace: 'demo', name: 'Alice', exp: T / 1000 + 60 }), T);
    expect(session).toMatchObject({ userId: 'alice', workspace: 'demo', name: 'Alice' });
  });

  it('refuses what the page cannot use, with a message for the person signing in', () => {
    expect(() => decodeToken('not a token')).toThrow(SignInError);
    expect(() => decodeToken(token({ workspace: 'demo' }))).toThrow(/sub/);
    expect(() => sessionFromToken(token({ sub: 'a', workspace: 'demo', exp: T / 1000 - 1 }), T)).toThrow(/expired/);
    expect(() => sessionFromToken(token({ sub: 'a', workspace: 'demo', role: 'service' }), T)).toThrow(/service token/);
  });
});
