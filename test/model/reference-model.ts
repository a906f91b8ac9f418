/**
 * A reference model of PROTOCOL.md's presence semantics, written independently of functions/domain.
 *
 * It runs in "true time": when the clock moves, every deadline that passes (a lease, a reconnect
 * grace, an idle timeout) changes the user's effective status at that very instant, in time order.
 * The service applies the same deadlines lazily (readers at read time, publication at the next
 * sweep or the next event of that user), so the model keeps, per user, the transition that has
 * happened but is not published yet (`pending`), and publishes it where the service would:
 * on any event of that user, on a sweep, or on a settings change of the workspace.
 *
 * Semantics (PROTOCOL.md, README "How it works", and the documented choices of the implementation):
 * - effective status: offline when logged out, when no connection is live and no grace runs, or
 *   when idle for the workspace's idle timeout; otherwise the chosen status (default online).
 * - the lease is per user: any of the user's connections renews it; when it passes, every
 *   connection of the user counts as dead (`timeout`). A message on such a connection revives it:
 *   `timeout` (at the lease end) then `connect`.
 * - closing the last counted connection starts the grace; when it ends, `disconnect`.
 * - idle is latched: an idle-offline user stays offline until active, whatever the timeout becomes.
 *   A user gone for another reason (timeout, disconnect) goes idle too when the deadline passes,
 *   unseen: a connection that comes back without activity keeps them offline, even after a raise.
 *   Connecting and setStatus count as activity.
 * - a deadline that passed before it is published is published with `at` = the deadline.
 * - a new connection does not receive the transitions published during its own `$connect`.
 * - (deviation) the service may record activity early by less than its granularity
 *   (min(60 s, idle / 10)): the model reads the recorded value back and checks that bound.
 *
 * `Deviations` are choices of the implementation that PROTOCOL.md does not make; each is reported.
 */

export type Status = 'online' | 'away' | 'offline';
type Chosen = 'online' | 'away';
export type Reason = 'connect' | 'active' | 'manual' | 'disconnect' | 'timeout' | 'idle' | 'logout' | 'admin';

export interface Notice {
  ws: string;
  userId: string;
  status: Status;
  previous: Status;
  reason: Reason;
  at: number;
  /** On a change to away with a reason. */
  awayReason?: string;
  /** The admin who made the change. */
  by?: string;
}

/** The away reasons every workspace of a sequence offers (set before its first command). */
export const AWAY_REASONS = ['lunch', 'meeting'] as const;

export interface Timings {
  leaseMs: number;
  graceMs: number;
  defaultIdleSeconds: number;
  minIdleSeconds: number;
  maxIdleSeconds: number;
}

export interface Deviations {
  /**
   * The implementation renews the lease on a heartbeat only when less than half of it is left, so
   * after a heartbeat the connection may die lease/2 later rather than a full lease after it.
   * PROTOCOL.md: live = "last heartbeat (or connect) is newer than the connection lease".
   */
  halfLeaseRenewal: boolean;
  /**
   * An active heartbeat within min(60 s, idle / 10) of the recorded activity is not recorded (to
   * save writes), so the user may go idle that much early. PROTOCOL.md: idle = no activity for
   * the idle timeout. With the switch on, the model reads the recorded value back and checks the bound.
   */
  activityGranularity: boolean;
}

export const IMPLEMENTATION: Deviations = { halfLeaseRenewal: true, activityGranularity: true };

/**
 * `dropped`: the client vanished and API Gateway has not noticed (posts still succeed);
 * `gone`: API Gateway knows (posts answer 410), but no `$disconnect` reached the service.
 */
type ConnState = 'opening' | 'open' | 'dropped' | 'gone' | 'closed';

export interface Conn {
  id: string;
  ws: string;
  userId: string;
  state: ConnState;
  /**
   * The service's connection item, which fan-out posts to. Only needed to know when a `gone`
   * connection is noticed: when a transition of its workspace is posted to it (answer 410).
   */
  item: boolean;
  connectedAt: number;
  /** The teams it subscribed to; null: the whole workspace. Its own user's changes always reach it. */
  scope: string[] | null;
}

/**
 * API Gateway answers 410 during `$connect` as for a gone connection, so the service takes a 410
 * as proof only from connections older than its $connect window (API Gateway's 29 s timeout).
 */
const OPENING_WINDOW_MS = 30_000;

export interface User {
  ws: string;
  userId: string;
  /** From the user's token. */
  teams: string[];
  known: boolean;
  chosen: Chosen;
  /** The chosen away reason (only with chosen away). */
  chosenReason: string | null;
  /** The away reason and the admin of the last published change (what readers are told with it). */
  publishedReason: string | null;
  publishedBy: string | null;
  /** Effective status in true time, since when, and why. */
  status: Status;
  since: number;
  reason: Reason | null;
  /** Last status the service published for this user. */
  published: Status;
  /** A deadline transition that happened but is not published yet (at most one). */
  pending: Notice | null;
  /** Connections counted for the lease. */
  conns: Set<string>;
  leaseUntil: number;
  graceUntil: number | null;
  loggedOut: boolean;
  /** Activity as the service records it. */
  lastActive: number;
  /** Activity happened at `at` but the service may record it up to `granularity` earlier. */
  fuzzyActivity: { at: number; floor: number; granularity: number } | null;
  /** Idle (offline for it, or gone for another reason when its deadline passed), latched until activity. */
  idle: boolean;
}

/** What one connection should receive from one publication. */
type Expect = 'must' | 'may';

export interface StepOutput {
  published: Notice[];
  /** Per connection: each published notice with must/may. Connections not listed must receive none. */
  deliveries: Map<string, { notice: Notice; expect: Expect }[]>;
  /** Per connection: error codes and loggedOut messages expected, in order. */
  replies: Map<string, string[]>;
}

export class PresenceModel {
  now: number;
  readonly users = new Map<string, User>();
  readonly conns = new Map<string, Conn>();
  private readonly idleSeconds = new Map<string, number>();
  out: StepOutput = PresenceModel.emptyOutput();

  constructor(
    start: number,
    readonly timings: Timings,
    readonly deviations: Deviations,
  ) {
    this.now = start;
  }

  static emptyOutput(): StepOutput {
    return { published: [], deliveries: new Map(), replies: new Map() };
  }

  /** Starts a new step: returns what the previous one produced. */
  takeOutput(): StepOutput {
    const out = this.out;
    this.out = PresenceModel.emptyOutput();
    this.groupStart = 0;
    for (const conn of this.conns.values()) if (conn.state === 'opening') conn.state = 'open';
    return out;
  }

  idleMs(ws: string): number {
    return (this.idleSeconds.get(ws) ?? this.timings.defaultIdleSeconds) * 1000;
  }

  granularityMs(ws: string): number {
    return Math.min(60_000, Math.floor(this.idleMs(ws) / 10));
  }

  user(ws: string, userId: string): User {
    const key = `${ws}\u0000${userId}`;
    let user = this.users.get(key);
    if (!user) {
      user = {
        ws,
        userId,
        teams: [],
        known: false,
        chosen: 'online',
        chosenReason: null,
        publishedReason: null,
        publishedBy: null,
        status: 'offline',
        since: this.now,
        reason: null,
        published: 'offline',
        pending: null,
        conns: new Set(),
        leaseUntil: 0,
        graceUntil: null,
        loggedOut: false,
        lastActive: this.now,
        fuzzyActivity: null,
        idle: false,
      };
      this.users.set(key, user);
    }
    return user;
  }

  usersOf(ws: string): User[] {
    return [...this.users.values()].filter((user) => user.ws === ws && user.known);
  }

  // ---------- true time ----------

  /** Moves the clock, applying every deadline that passes, in time order. */
  advanceTo(target: number): void {
    for (;;) {
      let next: { user: User; at: number; kind: 'lease' | 'grace' | 'idle' } | null = null;
      for (const user of this.users.values()) {
        const candidates: { at: number; kind: 'lease' | 'grace' | 'idle' }[] = [];
        if (user.loggedOut) continue;
        if (user.conns.size > 0) candidates.push({ at: user.leaseUntil, kind: 'lease' });
        else if (user.graceUntil !== null) candidates.push({ at: user.graceUntil, kind: 'grace' });
        // The end of presence wins a tie with the idle deadline. A user gone for another reason
        // (timeout, disconnect) goes idle too, unseen: a later raise of the timeout does not undo it.
        if (!user.idle) candidates.push({ at: user.lastActive + this.idleMs(user.ws), kind: 'idle' });
        for (const candidate of candidates) {
          if (candidate.at <= target && (!next || candidate.at < next.at)) next = { user, ...candidate };
        }
      }
      if (!next) break;
      const { user, at, kind } = next;
      if (kind === 'lease') {
        user.conns.clear();
        if (user.status !== 'offline') this.happen(user, 'offline', 'timeout', at);
      } else if (kind === 'grace') {
        user.graceUntil = null;
        if (user.status !== 'offline') this.happen(user, 'offline', 'disconnect', at);
      } else {
        user.idle = true;
        if (user.status !== 'offline') this.happen(user, 'offline', 'idle', at);
      }
    }
    this.now = target;
  }

  /** A deadline transition: it happened at `at`; the service publishes it later. */
  private happen(user: User, status: Status, reason: Reason, at: number): void {
    if (user.pending) throw new Error(`model: a second pending transition for ${user.userId}`);
    // A deadline is the service's doing: no reason to show, no admin.
    user.pending = { ws: user.ws, userId: user.userId, status, previous: user.status, reason, at };
    user.status = status;
    user.since = at;
    user.reason = reason;
  }

  /**
   * The service writes this user: what passed is published. Items of connections whose lease
   * passed stay (logout must still reach them) until a post to them answers 410.
   */
  private expireDeadlines(user: User): void {
    this.publishPending(user);
  }

  /**
   * Ends one delivery in `ws`: every `gone` connection with an item, past the opening window,
   * that subscribes to one of the delivered changes was posted to and answered 410, so its item
   * is deleted and it is disconnected (as by `$disconnect`): a write whose changes are delivered
   * in turn, until no gone connection is posted to.
   */
  private deliverGroup(ws: string): void {
    if (this.out.published.length === this.groupStart) return;
    const delivered = this.out.published.slice(this.groupStart);
    this.groupStart = this.out.published.length;
    const gone = [...this.conns.values()].filter(
      (conn) =>
        conn.ws === ws &&
        conn.state === 'gone' &&
        conn.item &&
        this.now - conn.connectedAt >= OPENING_WINDOW_MS &&
        delivered.some((notice) => notice.ws === ws && this.covers(conn, notice)),
    );
    for (const conn of gone) conn.item = false;
    for (const conn of gone) {
      const user = this.user(conn.ws, conn.userId);
      this.expireDeadlines(user);
      this.removeConn(user, conn.id);
    }
    this.deliverGroup(ws);
  }

  /** Whether a connection subscribes to the notice's user: its own, the workspace, or a team of the user. */
  private covers(conn: Conn, notice: Notice): boolean {
    if (conn.scope === null || conn.userId === notice.userId) return true;
    return this.user(notice.ws, notice.userId).teams.some((team) => conn.scope!.includes(team));
  }

  /** Where the current fan-out's publications start in `out.published`. */
  private groupStart = 0;

  private removeConn(user: User, connId: string): void {
    if (user.conns.delete(connId) && user.conns.size === 0) user.graceUntil = this.now + this.timings.graceMs;
  }

  private publishPending(user: User): void {
    if (!user.pending) return;
    const notice = user.pending;
    user.pending = null;
    this.publish(user, notice);
  }

  /** An event's transition: published now (by an admin when `by` is given). */
  private change(user: User, status: Status, reason: Reason, at = this.now, by: string | null = null): void {
    if (user.pending) throw new Error('model: pending must be published first');
    const notice: Notice = { ws: user.ws, userId: user.userId, status, previous: user.status, reason, at };
    if (status === 'away' && user.chosenReason !== null) notice.awayReason = user.chosenReason;
    if (by !== null) notice.by = by;
    user.status = status;
    user.since = at;
    user.reason = reason;
    this.publish(user, notice);
  }

  private publish(user: User, notice: Notice): void {
    user.published = notice.status;
    user.publishedReason = notice.awayReason ?? null;
    user.publishedBy = notice.by ?? null;
    this.out.published.push(notice);
    for (const conn of this.conns.values()) {
      if (conn.ws !== notice.ws) continue;
      // A subscription to teams receives its own user's changes and those of its teams' members.
      if (!this.covers(conn, notice)) continue;
      let expect: Expect | null;
      if (conn.state === 'open') {
        const owner = this.user(conn.ws, conn.userId);
        const live = !owner.loggedOut && owner.conns.has(conn.id);
        expect = live ? 'must' : 'may';
      } else if (conn.state === 'dropped' || conn.state === 'gone') {
        expect = 'may';
      } else {
        expect = null; // opening (API Gateway answers 410) or closed
      }
      if (!expect) continue;
      const list = this.out.deliveries.get(conn.id) ?? [];
      list.push({ notice, expect });
      this.out.deliveries.set(conn.id, list);
    }
  }

  private reply(connId: string, what: string): void {
    const list = this.out.replies.get(connId) ?? [];
    list.push(what);
    this.out.replies.set(connId, list);
  }

  private isIdle(user: User): boolean {
    return user.idle || this.now >= user.lastActive + this.idleMs(user.ws);
  }

  private recordActivityExactly(user: User): void {
    user.lastActive = Math.max(user.lastActive, this.now);
    user.fuzzyActivity = null;
    user.idle = false;
  }

  // ---------- events ----------

  connect(ws: string, userId: string, connId: string, teams: string[] = []): void {
    const user = this.user(ws, userId);
    user.teams = [...teams];
    this.expireDeadlines(user);
    if (!user.known) {
      user.known = true;
      user.since = this.now;
      user.lastActive = this.now;
    }
    this.conns.set(connId, { id: connId, ws, userId, state: 'opening', item: true, connectedAt: this.now, scope: null });
    user.conns.add(connId);
    user.leaseUntil = this.now + this.timings.leaseMs;
    user.graceUntil = null;
    user.loggedOut = false;
    this.recordActivityExactly(user);
    if (user.status === 'offline') this.change(user, user.chosen, 'connect');
    this.deliverGroup(ws);
  }

  close(connId: string): void {
    const conn = this.mustConn(connId);
    conn.state = 'closed';
    conn.item = false;
    const user = this.user(conn.ws, conn.userId);
    this.expireDeadlines(user);
    this.removeConn(user, connId);
    this.deliverGroup(conn.ws);
  }

  drop(connId: string): void {
    this.mustConn(connId).state = 'dropped';
  }

  gone(connId: string): void {
    this.mustConn(connId).state = 'gone';
  }

  /** A message on a connection: revives it when its lease had passed, renews the lease. */
  private touch(user: User, connId: string): boolean {
    const revived = !user.conns.has(connId);
    if (revived) {
      user.conns.add(connId);
      this.mustConn(connId).item = true;
      user.leaseUntil = this.now + this.timings.leaseMs;
      user.graceUntil = null;
    } else if (!this.deviations.halfLeaseRenewal || user.leaseUntil - this.now < this.timings.leaseMs / 2) {
      user.leaseUntil = this.now + this.timings.leaseMs;
    }
    return revived;
  }

  heartbeat(connId: string, active: boolean): void {
    const conn = this.mustConn(connId);
    const user = this.user(conn.ws, conn.userId);
    if (user.loggedOut) return;
    this.expireDeadlines(user);
    const revived = this.touch(user, connId);
    if (active) {
      if (this.isIdle(user) || !this.deviations.activityGranularity) {
        this.recordActivityExactly(user);
      } else {
        user.fuzzyActivity = { at: this.now, floor: user.lastActive, granularity: this.granularityMs(user.ws) };
        user.lastActive = this.now;
      }
    } else if (this.isIdle(user)) {
      // Present again but idle: idle-offline, latched.
      user.idle = true;
    }
    const next: Status = user.idle ? 'offline' : user.chosen;
    if (next !== user.status) this.change(user, next, revived ? 'connect' : 'active');
    this.deliverGroup(conn.ws);
  }

  /**
   * Follows these teams (null: the workspace). Valid: null or 1 to 50 ids of [A-Za-z0-9_.@:-];
   * anything else is refused and changes nothing. No presence changes: the agent is untouched.
   */
  subscribe(connId: string, teams: unknown): void {
    const conn = this.mustConn(connId);
    const valid =
      teams === null ||
      (Array.isArray(teams) && teams.length >= 1 && teams.length <= 50 && teams.every((team) => typeof team === 'string' && /^[A-Za-z0-9_.@:-]{1,128}$/.test(team)));
    if (!valid) {
      this.reply(connId, 'error:invalid_message');
      return;
    }
    conn.scope = teams === null ? null : [...(teams as string[])];
    conn.item = true;
    this.reply(connId, 'snapshot');
  }

  /** An away reason goes only with away, and only one the workspace offers. */
  private validReason(status: Chosen, awayReason: string | null): boolean {
    return awayReason === null || (status === 'away' && (AWAY_REASONS as readonly string[]).includes(awayReason));
  }

  /** Publishes the choice if the user is present and it changes what readers see: the status, or only the away reason. */
  private choose(user: User, status: Chosen, awayReason: string | null, reason: Reason, by: string | null): void {
    user.chosen = status;
    user.chosenReason = status === 'away' ? awayReason : null;
    if (user.status === 'offline') return;
    if (user.status !== status || (status === 'away' && user.publishedReason !== user.chosenReason)) this.change(user, status, reason, this.now, by);
  }

  setStatus(connId: string, value: string, awayReason: string | null = null): void {
    const conn = this.mustConn(connId);
    if (value !== 'online' && value !== 'away') {
      this.reply(connId, 'error:invalid_status');
      return;
    }
    if (!this.validReason(value, awayReason)) {
      this.reply(connId, 'error:invalid_message');
      return;
    }
    const user = this.user(conn.ws, conn.userId);
    if (user.loggedOut) return;
    this.expireDeadlines(user);
    this.touch(user, connId);
    this.recordActivityExactly(user);
    // Activity makes the user present with the chosen status.
    if (user.status === 'offline') {
      user.chosen = value;
      user.chosenReason = value === 'away' ? awayReason : null;
      this.change(user, value, 'manual');
    } else {
      this.choose(user, value, awayReason, 'manual', null);
    }
    this.deliverGroup(conn.ws);
  }

  /**
   * An admin sets a teammate's status over HTTP: the HTTP status it answers. Not an activity of
   * the user: an offline user only has the choice stored.
   */
  adminSetStatus(ws: string, userId: string, value: string, awayReason: string | null, admin: boolean, by: string): number {
    if (!admin) return 403;
    if (value !== 'online' && value !== 'away') return 400;
    const user = this.user(ws, userId);
    if (!user.known) return 404;
    if (!this.validReason(value, awayReason)) return 400;
    this.expireDeadlines(user);
    this.choose(user, value, awayReason, 'admin', by);
    this.deliverGroup(ws);
    return 200;
  }

  /** An admin signs a teammate out everywhere: the HTTP status it answers. */
  adminLogout(ws: string, userId: string, admin: boolean, by: string): number {
    if (!admin) return 403;
    const user = this.user(ws, userId);
    if (!user.known) return 404;
    this.logoutUser(user, by);
    return 200;
  }

  logout(connId: string): void {
    const conn = this.mustConn(connId);
    this.logoutUser(this.user(conn.ws, conn.userId), null);
  }

  private logoutUser(user: User, by: string | null): void {
    this.expireDeadlines(user);
    if (user.status !== 'offline') this.change(user, 'offline', 'logout', this.now, by);
    this.deliverGroup(user.ws);
    for (const other of this.conns.values()) {
      if (other.ws === user.ws && other.userId === user.userId && other.state === 'open') {
        this.reply(other.id, 'loggedOut');
        other.state = 'closed';
      }
    }
    for (const other of this.conns.values()) if (other.ws === user.ws && other.userId === user.userId) other.item = false;
    user.conns.clear();
    user.graceUntil = null;
    user.loggedOut = true;
    user.idle = false;
  }

  sweep(): void {
    for (const user of this.users.values()) {
      if (!user.pending) continue; // only agents with a due deadline are read
      this.expireDeadlines(user);
      this.deliverGroup(user.ws);
    }
  }

  /** A valid change of the idle timeout by an admin. */
  setIdleTimeout(ws: string, seconds: number): void {
    // Saving the timeout in force changes nothing (what passed goes out with the next sweep).
    if (this.idleMs(ws) === seconds * 1000) return;
    // The service re-examines the agents it published as present: their pending deadline goes out.
    this.idleSeconds.set(ws, seconds);
    for (const user of this.usersOf(ws)) {
      if (user.published === 'offline') continue;
      this.expireDeadlines(user);
      const deadline = user.lastActive + this.idleMs(ws);
      // Readers saw the user present until this change: the idle it causes happens now.
      if (user.status !== 'offline' && this.now >= deadline) {
        user.idle = true;
        this.change(user, 'offline', 'idle', this.now);
      }
      this.deliverGroup(ws);
    }
  }

  validIdleTimeout(seconds: number): boolean {
    return Number.isInteger(seconds) && seconds >= this.timings.minIdleSeconds && seconds <= this.timings.maxIdleSeconds;
  }

  private mustConn(connId: string): Conn {
    const conn = this.conns.get(connId);
    if (!conn) throw new Error(`model: unknown connection ${connId}`);
    return conn;
  }

  /** Effective status of every known user of the workspace, as readers must see it now. */
  readers(ws: string): { userId: string; status: Status; since: number; lastActive: number; awayReason?: string; by?: string }[] {
    return this.usersOf(ws)
      .map((user) => ({
        userId: user.userId,
        status: user.status,
        since: user.since,
        lastActive: user.lastActive,
        ...(user.status === 'away' && user.chosenReason !== null ? { awayReason: user.chosenReason } : {}),
        // Who set the status readers see: only while it is the published one.
        ...(!user.pending && user.publishedBy !== null ? { by: user.publishedBy } : {}),
      }))
      .sort((a, b) => (a.userId < b.userId ? -1 : 1));
  }

  /** Open connections in creation order. */
  openConns(): Conn[] {
    return [...this.conns.values()].filter((conn) => conn.state === 'open');
  }
}
