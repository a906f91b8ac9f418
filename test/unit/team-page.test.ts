/** The team page's pure parts: roster updates and order, backoff, initials, token reading. */
import { describe, expect, it } from 'vitest';
import type { PresenceMessage, SnapshotMessage } from '#app/messages.ts';
import { applyPresence, applySnapshot, backoffDelay, type RosterEntry, sortRoster } from '#local/page/connection.ts';
import { decodeToken, SignInError, sessionFromToken } from '#local/page/session.ts';
import { initials } from '#local/page/view.ts';

const T = 1_764_000_000_000;

function snapshot(at: number, users: Array<Partial<RosterEntry> & { userId: string }>): SnapshotMessage {
  return {
    type: 'snapshot',
    at,
    users: users.map((user) => ({ name: user.userId, teams: [], status: 'online', since: at - 1000, lastActiveAt: at - 1000, ...user })),
  };
}

function presence(userId: string, status: PresenceMessage['status'], at: number, reason: PresenceMessage['reason'] = 'manual'): PresenceMessage {
  return { type: 'presence', userId, name: userId, teams: [], status, previous: 'online', reason, at };
}

function token(claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part(claims)}.signature`;
}

describe('roster', () => {
  it('orders online, then away, then offline, by name within each', () => {
    const roster = applySnapshot(
      new Map(),
      snapshot(T, [
        { userId: 'z', name: 'zoe', status: 'offline' },
        { userId: 'b', name: 'Bob', status: 'away' },
        { userId: 'c', name: 'carla', status: 'online' },
        { userId: 'a', name: 'Anna', status: 'online' },
      ]),
    );
    expect(sortRoster(roster.values()).map((entry) => entry.userId)).toEqual(['a', 'c', 'b', 'z']);
  });

  it('applies presence messages, and never lets older news overwrite newer', () => {
    const start = applySnapshot(new Map(), snapshot(T, [{ userId: 'alice' }]));
    const away = applyPresence(start, presence('alice', 'away', T + 10));
    expect(away.get('alice')).toMatchObject({ status: 'away', reason: 'manual', since: T + 10 });
    expect(applyPresence(away, presence('alice', 'online', T + 5)).get('alice')?.status).toBe('away');
    expect(applyPresence(away, presence('bob', 'online', T + 11, 'connect')).get('bob')?.status).toBe('online');
  });

  it('keeps what a presence message said after an older snapshot arrives', () => {
    const roster = applyPresence(new Map(), presence('alice', 'away', T + 10));
    const next = applySnapshot(roster, snapshot(T, [{ userId: 'alice', status: 'online' }, { userId: 'bob' }]));
    expect(next.get('alice')?.status).toBe('away');
    expect(next.get('bob')?.status).toBe('online');
  });

  it('keeps the offline reason when a later snapshot agrees with it', () => {
    const roster = applyPresence(new Map(), presence('alice', 'offline', T, 'idle'));
    expect(applySnapshot(roster, snapshot(T + 1, [{ userId: 'alice', status: 'offline' }])).get('alice')?.reason).toBe('idle');
    expect(applySnapshot(roster, snapshot(T + 1, [{ userId: 'alice', status: 'online' }])).get('alice')?.reason).toBeNull();
  });
});

describe('reconnect backoff', () => {
  it('doubles from 500 ms and is capped at 15 s, with jitter down to half', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((attempt) => backoffDelay(attempt, () => 1))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    expect(backoffDelay(0, () => 0)).toBe(250);
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
