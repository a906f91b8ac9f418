/**
 * The roster merge: a snapshot plus live `presence` changes into one roster, with no socket, so
 * its ordering rules can be tested alone. An entry only changes for news at least as new as what
 * it holds (per-user versions), so a repeated delivery, an old message or a snapshot taken before
 * a change never brings back a stale status. The roster is a new Map on every change, never
 * mutated in place: UIs compare it by identity.
 */
import type { PresenceChange, RosterEntry, SnapshotMessage } from './protocol.ts';

export type Roster = ReadonlyMap<string, Readonly<RosterEntry>>;

/** Snapshots assembled at once on one connection; an older unfinished one is dropped. */
const MAX_ASSEMBLING = 4;

/**
 * Collects a snapshot's parts in `assembling` (one connection's, by snapshot id); returns the
 * whole snapshot once its last part is in.
 */
export function assembleSnapshot(assembling: Map<string, SnapshotMessage[]>, part: SnapshotMessage): SnapshotMessage | undefined {
  const parts = Number.isInteger(part.parts) && part.parts > 0 ? part.parts : 1;
  if (parts === 1) return part;
  const received = assembling.get(part.id) ?? [];
  if (!received.some((known) => known.part === part.part)) received.push(part);
  assembling.delete(part.id);
  if (received.length < parts) {
    assembling.set(part.id, received);
    // A snapshot whose parts stopped coming (the connection is dropping) must not pile up.
    if (assembling.size > MAX_ASSEMBLING) assembling.delete(assembling.keys().next().value!);
    return undefined;
  }
  received.sort((a, b) => a.part - b.part);
  return { ...part, part: 1, parts: 1, users: received.flatMap((each) => each.users) };
}

/** Team ids in one order without repeats, so two subscriptions compare as lists. */
export function normalizeScope(teams: readonly string[] | null): string[] | null {
  return teams === null ? null : [...new Set(teams)].sort();
}

export function sameScope(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  const left = normalizeScope(a)!;
  const right = normalizeScope(b)!;
  return left.length === right.length && left.every((team, index) => team === right[index]);
}

export class RosterMerge {
  /** The teams followed; null: the whole workspace. The server sends only those; this guards the roster. */
  scope: string[] | null = null;
  /** The user this roster is for: always followed, whatever the teams. */
  self: string | undefined;
  private current = new Map<string, RosterEntry>();
  /** Changes applied so far, and when (in that count) each user last changed: snapshots use it. */
  private applied = 0;
  private readonly changedAt = new Map<string, number>();

  get entries(): Roster {
    return this.current;
  }

  /** The self's entry, once a snapshot or change brought it. */
  get me(): Readonly<RosterEntry> | undefined {
    return this.self === undefined ? undefined : this.current.get(this.self);
  }

  /** The count of changes applied so far: a snapshot asked for now is `requestedAt` this. */
  get changeCount(): number {
    return this.applied;
  }

  /** Whether the subscription covers this user. */
  follows(user: { userId: string; teams: readonly string[] }): boolean {
    return this.scope === null || user.userId === this.self || user.teams.some((team) => this.scope!.includes(team));
  }

  /**
   * Replaces the roster with the snapshot. A user it lacks stays if a change about them was
   * applied after the snapshot was asked for (`requestedAt`, a `changeCount`): the snapshot may
   * have been read just before that user's first write landed.
   */
  applySnapshot(snapshot: SnapshotMessage, requestedAt: number): void {
    const next = new Map<string, RosterEntry>();
    for (const user of snapshot.users) {
      const known = this.current.get(user.userId);
      // A change newer than the snapshot (a greater version) wins over it.
      next.set(user.userId, known && known.version > user.version ? known : { ...user, teams: [...user.teams] });
    }
    for (const [userId, known] of this.current) {
      if (!next.has(userId) && (this.changedAt.get(userId) ?? -1) >= requestedAt && this.follows(known)) next.set(userId, known);
    }
    this.current = next;
  }

  /** Applies one change if it is news for this roster; returns whether it was. */
  applyChange(change: PresenceChange): boolean {
    // The server sends only the subscription's changes; one from before a subscribe took effect is not for this roster.
    if (!this.follows(change)) return false;
    const known = this.current.get(change.userId);
    // Delivery is at least once, both connections deliver during a handover, and a change can be
    // older than the snapshot: only a greater version is news.
    if (known && change.version <= known.version) return false;
    // The server records activity with these (a connect counts as activity).
    const activity = change.reason === 'active' || change.reason === 'manual' || change.reason === 'connect';
    this.current = new Map(this.current).set(change.userId, {
      userId: change.userId,
      name: change.name,
      teams: [...change.teams],
      status: change.status,
      since: change.at,
      lastActiveAt: activity ? Math.max(change.at, known?.lastActiveAt ?? 0) : (known?.lastActiveAt ?? change.at),
      version: change.version,
      // What the change says now: a reason or an admin of an earlier change does not linger.
      ...(change.awayReason !== undefined ? { awayReason: change.awayReason } : {}),
      ...(change.by !== undefined ? { by: change.by } : {}),
    });
    this.changedAt.set(change.userId, this.applied++);
    return true;
  }
}
