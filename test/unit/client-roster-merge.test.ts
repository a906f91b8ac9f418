/**
 * The client's roster merge on its own (client/src/roster.ts, no socket): snapshots and changes
 * applied by per-user version whatever order they come in, the team filter, what an entry keeps
 * of a change (awayReason, by, lastActiveAt), and snapshots assembled from their parts.
 * test/unit/client-roster.test.ts covers the same rules through PresenceClient and a fake socket.
 */
import { describe, expect, it } from 'vitest';
import type { PresenceChange, Reason, RosterEntry, SnapshotMessage, Status } from '../../client/src/protocol.ts';
import { assembleSnapshot, normalizeScope, RosterMerge, sameScope } from '../../client/src/roster.ts';

function user(userId: string, status: Status, version: number, teams: string[] = ['sales'], fields: Partial<RosterEntry> = {}): RosterEntry {
  return { userId, name: userId, teams, status, since: 1000, lastActiveAt: 1000, version, ...fields };
}

function snapshot(users: RosterEntry[], part = 1, parts = 1, id = 's1'): SnapshotMessage {
  return { type: 'snapshot', id, part, parts, at: 1000, scope: null, users };
}

function change(userId: string, status: Status, version: number, fields: Partial<PresenceChange> = {}): PresenceChange {
  return { userId, name: userId, teams: ['sales'], status, previous: 'online', reason: 'manual', at: 2000 + version, version, ...fields };
}

/** `userId:status@version` of every entry, by user id. */
function summary(merge: RosterMerge): string[] {
  return [...merge.entries.values()].map((entry) => `${entry.userId}:${entry.status}@${entry.version}`).sort();
}

describe('RosterMerge: snapshots and changes', () => {
  it('takes a snapshot, then applies the changes that are news, in order', () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sam', 'online', 1), user('sally', 'online', 4)]), 0);

    expect(merge.applyChange(change('sally', 'away', 5))).toBe(true);
    expect(merge.applyChange(change('sally', 'online', 6))).toBe(true);

    expect(summary(merge)).toEqual(['sally:online@6', 'sam:online@1']);
    expect(merge.changeCount).toBe(2);
  });

  it('ignores a repeated change, one the snapshot already holds, and one older than the entry', () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sally', 'online', 4)]), 0);

    expect(merge.applyChange(change('sally', 'away', 4))).toBe(false); // the snapshot's own version
    expect(merge.applyChange(change('sally', 'away', 5))).toBe(true);
    const after = merge.entries;
    expect(merge.applyChange(change('sally', 'away', 5))).toBe(false); // delivered again
    expect(merge.applyChange(change('sally', 'online', 3))).toBe(false); // late and old

    expect(merge.entries).toBe(after); // no news: the same roster value
    expect(summary(merge)).toEqual(['sally:away@5']);
    expect(merge.changeCount).toBe(1);
  });

  it('out of order: a later version applied first wins over an earlier one arriving after it', () => {
    const merge = new RosterMerge();

    expect(merge.applyChange(change('bob', 'offline', 3))).toBe(true);
    expect(merge.applyChange(change('bob', 'away', 2))).toBe(false);

    expect(summary(merge)).toEqual(['bob:offline@3']);
  });

  it('keeps an entry a change made newer than the snapshot, and takes the snapshot where it is newer', () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sam', 'online', 1), user('sally', 'online', 4)]), 0);
    merge.applyChange(change('sally', 'away', 6));
    const requestedAt = merge.changeCount;

    // A snapshot read before sally's change (version 5) and after sam's (version 2).
    merge.applySnapshot(snapshot([user('sam', 'away', 2), user('sally', 'online', 5)]), requestedAt);

    expect(summary(merge)).toEqual(['sally:away@6', 'sam:away@2']);
  });

  it('a snapshot removes a user it lacks, unless a change about them came after the snapshot was asked for', () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sam', 'online', 1), user('gone', 'offline', 2)]), 0);
    const requestedAt = merge.changeCount;
    // bob's first write landed just after the snapshot was read: the change came, the snapshot lacks him.
    merge.applyChange(change('bob', 'online', 1, { reason: 'connect' }));

    merge.applySnapshot(snapshot([user('sam', 'online', 1)]), requestedAt);

    expect([...merge.entries.keys()].sort()).toEqual(['bob', 'sam']);
  });

  it('a user changed before the snapshot was asked for, and absent from it, is removed', () => {
    const merge = new RosterMerge();
    merge.applyChange(change('bob', 'online', 1));
    const requestedAt = merge.changeCount;

    merge.applySnapshot(snapshot([user('sam', 'online', 1)]), requestedAt);

    expect([...merge.entries.keys()]).toEqual(['sam']);
  });

  it('takes an offline change like any other: the entry stays, offline', () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sally', 'online', 4)]), 0);

    merge.applyChange(change('sally', 'offline', 5, { reason: 'disconnect' }));

    expect(merge.entries.get('sally')).toMatchObject({ status: 'offline', since: 2005, version: 5 });
  });

  it('never mutates a roster it handed out: every change and snapshot is a new Map, with its own team lists', () => {
    const merge = new RosterMerge();
    const users = [user('sally', 'online', 4)];
    merge.applySnapshot(snapshot(users), 0);
    const first = merge.entries;

    merge.applyChange(change('sally', 'away', 5));

    expect(merge.entries).not.toBe(first);
    expect(first.get('sally')?.status).toBe('online');
    expect(merge.entries.get('sally')?.teams).not.toBe(users[0]!.teams);
    expect(first.get('sally')?.teams).not.toBe(users[0]!.teams);
  });
});

describe('RosterMerge: what an entry keeps', () => {
  it.each<[Reason, number]>([
    ['active', 2005],
    ['manual', 2005],
    ['connect', 2005],
    ['idle', 1000],
    ['timeout', 1000],
    ['disconnect', 1000],
    ['logout', 1000],
    ['admin', 1000],
  ])('a %s change sets lastActiveAt to %i', (reason, lastActiveAt) => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sally', 'online', 4)]), 0);

    merge.applyChange(change('sally', 'away', 5, { reason }));

    expect(merge.entries.get('sally')?.lastActiveAt).toBe(lastActiveAt);
  });

  it("a first change of a user the roster did not have takes lastActiveAt from the change's time, whatever its reason", () => {
    const merge = new RosterMerge();

    merge.applyChange(change('bob', 'offline', 1, { reason: 'timeout', at: 7000 }));

    expect(merge.entries.get('bob')?.lastActiveAt).toBe(7000);
  });

  it('activity never moves lastActiveAt back', () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sally', 'online', 4, ['sales'], { lastActiveAt: 9000 })]), 0);

    merge.applyChange(change('sally', 'away', 5, { reason: 'manual', at: 3000 }));

    expect(merge.entries.get('sally')?.lastActiveAt).toBe(9000);
  });

  it("holds an admin's awayReason and by until a later change says otherwise", () => {
    const merge = new RosterMerge();
    merge.applySnapshot(snapshot([user('sally', 'online', 4)]), 0);

    merge.applyChange(change('sally', 'away', 5, { reason: 'admin', awayReason: 'meeting', by: 'dana' }));
    expect(merge.entries.get('sally')).toMatchObject({ status: 'away', awayReason: 'meeting', by: 'dana' });

    merge.applyChange(change('sally', 'online', 6, { previous: 'away' }));
    expect(merge.entries.get('sally')).not.toHaveProperty('awayReason');
    expect(merge.entries.get('sally')).not.toHaveProperty('by');
  });

  it('a change of only the reason (away -> away) is news with a greater version', () => {
    const merge = new RosterMerge();
    merge.applyChange(change('sally', 'away', 5, { awayReason: 'lunch' }));

    expect(merge.applyChange(change('sally', 'away', 6, { previous: 'away', awayReason: 'meeting' }))).toBe(true);

    expect(merge.entries.get('sally')).toMatchObject({ status: 'away', awayReason: 'meeting', version: 6 });
  });

  it('keeps awayReason and by from snapshot entries', () => {
    const merge = new RosterMerge();

    merge.applySnapshot(snapshot([user('sally', 'away', 7, ['sales'], { awayReason: 'lunch', by: 'dana' })]), 0);

    expect(merge.entries.get('sally')).toMatchObject({ status: 'away', awayReason: 'lunch', by: 'dana', version: 7 });
  });

  it('me is the self\'s entry, once the roster has it', () => {
    const merge = new RosterMerge();
    expect(merge.me).toBeUndefined();
    merge.applySnapshot(snapshot([user('sam', 'online', 1)]), 0);
    expect(merge.me).toBeUndefined(); // no self yet

    merge.self = 'sam';

    expect(merge.me).toMatchObject({ userId: 'sam', status: 'online' });
  });
});

describe('RosterMerge: team filter', () => {
  function following(scope: string[] | null, self = 'sam'): RosterMerge {
    const merge = new RosterMerge();
    merge.scope = scope;
    merge.self = self;
    return merge;
  }

  it('follows everyone with no scope, and with a scope the users of its teams and the self', () => {
    expect(following(null).follows({ userId: 'carol', teams: [] })).toBe(true);
    const sales = following(['sales']);
    expect(sales.follows({ userId: 'sally', teams: ['support', 'sales'] })).toBe(true);
    expect(sales.follows({ userId: 'carol', teams: ['support'] })).toBe(false);
    expect(sales.follows({ userId: 'sam', teams: [] })).toBe(true);
  });

  it('ignores a change of someone outside the teams (one from before a subscribe took effect)', () => {
    const merge = following(['sales']);

    expect(merge.applyChange(change('carol', 'away', 2, { teams: ['support'] }))).toBe(false);
    expect(merge.applyChange(change('sally', 'away', 5, { teams: ['sales'] }))).toBe(true);
    expect(merge.applyChange(change('sam', 'away', 2, { teams: [] }))).toBe(true);

    expect([...merge.entries.keys()].sort()).toEqual(['sally', 'sam']);
    expect(merge.changeCount).toBe(2);
  });

  it('a snapshot keeps a user changed after it was asked for only if the scope still covers them', () => {
    const merge = following(null);
    merge.applyChange(change('carol', 'online', 1, { teams: ['support'] }));
    merge.applyChange(change('sally', 'online', 1, { teams: ['sales'] }));
    merge.scope = ['sales'];

    merge.applySnapshot({ ...snapshot([user('sam', 'online', 1)]), scope: ['sales'] }, 0);

    expect([...merge.entries.keys()].sort()).toEqual(['sally', 'sam']);
  });

  it('a snapshot sets the roster to its users, whatever the scope (the server chose them)', () => {
    const merge = following(['sales']);

    merge.applySnapshot(snapshot([user('carol', 'online', 1, ['support'])]), 0);

    expect([...merge.entries.keys()]).toEqual(['carol']);
  });

  it('compares scopes as sets of team ids', () => {
    expect(normalizeScope(['support', 'sales', 'support'])).toEqual(['sales', 'support']);
    expect(normalizeScope(null)).toBeNull();
    expect(sameScope(['b', 'a'], ['a', 'b', 'a'])).toBe(true);
    expect(sameScope(['a'], ['a', 'b'])).toBe(false);
    expect(sameScope(null, null)).toBe(true);
    expect(sameScope(null, [])).toBe(false);
    expect(sameScope([], null)).toBe(false);
  });
});

describe('assembleSnapshot', () => {
  it('returns a one-part snapshot as it is', () => {
    const whole = snapshot([user('sam', 'online', 1)]);
    expect(assembleSnapshot(new Map(), whole)).toBe(whole);
    // Nonsense part counts are one part.
    const odd = { ...whole, parts: 0 };
    expect(assembleSnapshot(new Map(), odd)).toBe(odd);
  });

  it('returns the whole snapshot, users in part order, once the last part is in; a repeated part counts once', () => {
    const assembling = new Map<string, SnapshotMessage[]>();

    expect(assembleSnapshot(assembling, snapshot([user('c', 'online', 1)], 3, 3))).toBeUndefined();
    expect(assembleSnapshot(assembling, snapshot([user('c', 'online', 1)], 3, 3))).toBeUndefined();
    expect(assembleSnapshot(assembling, snapshot([user('a', 'online', 1)], 1, 3))).toBeUndefined();
    const whole = assembleSnapshot(assembling, snapshot([user('b', 'online', 1)], 2, 3));

    expect(whole).toMatchObject({ id: 's1', part: 1, parts: 1 });
    expect(whole?.users.map((each) => each.userId)).toEqual(['a', 'b', 'c']);
    expect(assembling.size).toBe(0);
  });

  it('keeps at most four unfinished snapshots, dropping the one least recently added to', () => {
    const assembling = new Map<string, SnapshotMessage[]>();
    for (const id of ['s1', 's2', 's3', 's4']) assembleSnapshot(assembling, snapshot([], 1, 2, id));
    assembleSnapshot(assembling, snapshot([], 1, 2, 's1')); // s1 again: now the most recent

    assembleSnapshot(assembling, snapshot([], 1, 2, 's5'));

    expect([...assembling.keys()]).toEqual(['s3', 's4', 's1', 's5']);
  });
});
