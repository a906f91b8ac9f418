/**
 * The team page's pure parts: reasons kept with the SDK's roster, roster order, initials, token
 * reading, status texts (away reasons, who set it) and the status picker's choices.
 */
import { describe, expect, it } from 'vitest';
import type { PresenceEvent, RosterEntry } from '../../client/src/index.ts';
import { type HeardPresence, hear, sortRoster, withReasons } from '#local/page/roster.ts';
import { decodeToken, SignInError, sessionFromToken } from '#local/page/session.ts';
import { type AwayReason, parsePickerValue, pickerOptions, pickerValue, reasonLabel } from '#local/page/supervisor.ts';
import { initials } from '#local/page/dom.ts';
import { type StatusContext, statusText } from '#local/page/roster-view.ts';

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
    expect(session).toMatchObject({ userId: 'alice', workspace: 'demo', name: 'Alice', admin: false });
  });

  it('knows an admin token, for the supervisor controls', () => {
    expect(sessionFromToken(token({ sub: 'dana', workspace: 'demo', role: 'admin' }), T).admin).toBe(true);
    expect(sessionFromToken(token({ sub: 'al', workspace: 'demo', role: 'agent' }), T).admin).toBe(false);
  });

  it('refuses what the page cannot use, with a message for the person signing in', () => {
    expect(() => decodeToken('not a token')).toThrow(SignInError);
    expect(() => decodeToken(token({ workspace: 'demo' }))).toThrow(/sub/);
    expect(() => sessionFromToken(token({ sub: 'a', workspace: 'demo', exp: T / 1000 - 1 }), T)).toThrow(/expired/);
    expect(() => sessionFromToken(token({ sub: 'a', workspace: 'demo', role: 'service' }), T)).toThrow(/service token/);
  });
});

const REASONS: AwayReason[] = [
  { id: 'lunch', label: 'Lunch', emoji: '🍔' },
  { id: 'meeting', label: 'Meeting' },
];

describe('status texts', () => {
  const names = new Map([
    ['dana', 'Dana Supervisor'],
    ['alice', 'Alice Martin'],
  ]);
  const context: StatusContext = { viewerId: 'alice', reasons: REASONS, nameOf: (userId) => names.get(userId) ?? userId };
  const text = (fields: Parameters<typeof statusText>[0]) => statusText(fields, context);

  it('says the status, the away reason by its label, and why an offline user is offline', () => {
    expect(text({ userId: 'bob', status: 'online', reason: null })).toBe('Online');
    expect(text({ userId: 'bob', status: 'away', reason: 'manual' })).toBe('Away');
    expect(text({ userId: 'bob', status: 'away', reason: 'manual', awayReason: 'lunch' })).toBe('Away: Lunch');
    // A reason the page does not know (yet): its id.
    expect(text({ userId: 'bob', status: 'away', reason: null, awayReason: 'gym' })).toBe('Away: gym');
    expect(text({ userId: 'bob', status: 'offline', reason: 'idle' })).toBe('Offline · idle');
    expect(text({ userId: 'bob', status: 'offline', reason: null })).toBe('Offline');
  });

  it("says which admin set it, by name when the roster has them, and never the user's own doing", () => {
    expect(text({ userId: 'bob', status: 'away', reason: 'admin', awayReason: 'meeting', by: 'dana' })).toBe('Away: Meeting, set by Dana Supervisor');
    expect(text({ userId: 'bob', status: 'online', reason: 'admin', by: 'zed' })).toBe('Online, set by zed');
    expect(text({ userId: 'bob', status: 'offline', reason: 'logout', by: 'dana' })).toBe('Offline · signed out by Dana Supervisor');
    // From a snapshot (no reason heard): an offline status with an admin is a sign-out too.
    expect(text({ userId: 'bob', status: 'offline', reason: null, by: 'dana' })).toBe('Offline · signed out by Dana Supervisor');
    // The viewer did it: "you". The user did it to themself (an admin's own row): nothing.
    expect(text({ userId: 'bob', status: 'away', reason: 'admin', by: 'alice' })).toBe('Away, set by you');
    expect(text({ userId: 'dana', status: 'away', reason: 'admin', by: 'dana' })).toBe('Away');
  });
});

describe('status picker', () => {
  it("offers online, away, and away with each of the workspace's reasons", () => {
    expect(pickerOptions(REASONS)).toEqual([
      { value: 'online', label: 'Online' },
      { value: 'away', label: 'Away' },
      { value: 'away:lunch', label: 'Away: 🍔 Lunch' },
      { value: 'away:meeting', label: 'Away: Meeting' },
    ]);
    expect(pickerOptions([]).map((option) => option.value)).toEqual(['online', 'away']);
  });

  it("keeps a choice for the user's own reason when the workspace's list lacks it", () => {
    expect(pickerOptions([], 'gym').at(-1)).toEqual({ value: 'away:gym', label: 'Away: gym' });
    expect(pickerOptions(REASONS, 'lunch')).toHaveLength(4);
  });

  it('turns a status and reason into a value and back, ids with colons included', () => {
    for (const [status, reason] of [['online', undefined], ['away', undefined], ['away', 'lunch'], ['away', 'team:standup']] as const) {
      const value = pickerValue(status, reason);
      expect(parsePickerValue(value)).toEqual(reason === undefined ? { status } : { status, reason });
    }
    // A reason goes only with away.
    expect(pickerValue('online', 'lunch')).toBe('online');
  });

  it('labels a reason with or without its emoji, and an unknown one by its id', () => {
    expect(reasonLabel(REASONS, 'lunch')).toBe('Lunch');
    expect(reasonLabel(REASONS, 'lunch', true)).toBe('🍔 Lunch');
    expect(reasonLabel(REASONS, 'meeting', true)).toBe('Meeting');
    expect(reasonLabel(REASONS, 'gym', true)).toBe('gym');
  });
});
