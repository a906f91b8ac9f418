/**
 * PresenceClient: one agent's connection to the presence service, for browsers and Node.
 *
 * - keeps the roster of its subscription (the whole workspace, or chosen teams and the agent)
 *   from a snapshot plus live `presence` messages; a snapshot in parts replaces the roster only
 *   once every part is in; an entry only changes for news at least as new as what it holds, so an
 *   old message or a snapshot taken before a change never brings back a stale status (roster.ts);
 * - heartbeats every interval with `active` = activity since the previous beat (DOM listeners in
 *   browsers, `markActive()` elsewhere), with a Worker timer that background tabs do not slow down
 *   (activity.ts);
 * - reconnects with capped exponential backoff and full jitter, asking for a fresh token each time,
 *   and hands over to a new connection before API Gateway's 2-hour cut, overlapping the two, so
 *   the agent never goes offline for it (transport.ts);
 * - stops for good on `logout()` (every tab of the user gets `loggedOut`), when an admin signs
 *   the user out (the `loggedOut` event says who), and on `close()`;
 * - offers `store` (`subscribe` + `getSnapshot`) for UIs, e.g. React's `useSyncExternalStore`
 *   (events.ts).
 * This file is the public client: it says what goes on a connection and composes the rest.
 * No runtime dependency: pass `ws` as `WebSocket` on Node 20.
 */
import { Activity } from './activity.ts';
import { PresenceClientError } from './errors.ts';
import { Emitter, type Events, type PresenceStore } from './events.ts';
import { type PresenceClientOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { type ChosenStatus, ID_PATTERN, MAX_TEAMS, type RosterEntry, type ServerMessage } from './protocol.ts';
import { assembleSnapshot, normalizeScope, type Roster, RosterMerge, sameScope } from './roster.ts';
import { type ConnectionState, type Link, OPEN, Transport } from './transport.ts';
import { ReadyWaiters, Waiters } from './waiters.ts';

export { PresenceClientError, type PresenceClientErrorCode } from './errors.ts';
export type { PresenceSnapshot, PresenceStore } from './events.ts';
export type { PresenceClientOptions } from './options.ts';
export type {
  ChosenStatus,
  ErrorMessage,
  LoggedOutMessage,
  PresenceChange,
  PresenceEvent,
  PresenceMessage,
  Reason,
  RosterEntry,
  ServerMessage,
  SnapshotMessage,
  Status,
} from './protocol.ts';
export type { Roster } from './roster.ts';
export { backoffDelay, type ConnectionState, type WebSocketConstructor, type WebSocketLike } from './transport.ts';

/** `setStatus`'s options. */
export interface SetStatusOptions {
  /** With `away` only: one of the workspace's away reason ids (its settings' `awayReasons`). */
  reason?: string | undefined;
}

export class PresenceClient {
  private readonly options: ResolvedOptions;
  private readonly emitter = new Emitter(this);
  /** The roster, and who it is for and which teams it follows (sent again on every new connection). */
  private readonly merge = new RosterMerge();
  private readonly transport: Transport;
  private readonly activity = new Activity(() => this.beat());
  private readonly waiters: Waiters;
  private readonly ready = new ReadyWaiters();
  private state: ConnectionState = 'closed';

  /** The roster and connection state as one immutable value, for UIs (see PresenceStore). */
  readonly store: PresenceStore = this.emitter.store;

  constructor(options: PresenceClientOptions) {
    this.options = resolveOptions(options);
    this.waiters = new Waiters(this.options.requestTimeoutMs);
    this.transport = new Transport(this.options, {
      onSubject: (userId) => {
        this.merge.self = userId ?? this.merge.self;
      },
      scope: () => this.merge.scope,
      // The first snapshot is of the subscription: a team agent never loads the whole workspace.
      onOpen: (link) => this.requestSnapshot(link),
      onMessage: (link, message) => this.onMessage(link, message),
      onReconnecting: () => this.setState('reconnecting'),
      report: (error) => this.emitter.emit('error', error),
    });
  }

  // ---------- public API ----------

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    return this.emitter.on(event, listener);
  }

  /** The current roster: every user of the subscription (by default the workspace) the server knows. */
  get roster(): Roster {
    return this.merge.entries;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** This client's own entry, once the first snapshot arrived. */
  get me(): Readonly<RosterEntry> | undefined {
    return this.merge.me;
  }

  /**
   * Opens the connection; resolves once the roster is loaded. Keeps retrying through failures
   * (each reported as an `error` event); rejects only if `close()` or `logout()` ends it first.
   */
  connect(): Promise<void> {
    if (!this.transport.stopped) return this.ready.wait(this.synced);
    this.transport.begin();
    this.setState('connecting');
    this.activity.start(this.options.heartbeatIntervalMs, this.options.activity === 'auto' ? this : undefined);
    const ready = this.ready.wait(this.synced);
    void this.transport.open();
    return ready;
  }

  /** Records activity; the next heartbeat reports it. Offline agents are sent one at once. */
  markActive(): void {
    this.activity.markActive();
    if (this.me?.status === 'offline') this.promptBeat();
  }

  /**
   * Resolves once the server applied it; rejects with `invalid_status` for anything but
   * online/away, and with `invalid_message` for a `reason` with online or that is not an id (the
   * server answers `invalid_message` too for a reason the workspace does not have). Away without a
   * reason clears the one the user had; changing only the reason is a change (away -> away).
   */
  async setStatus(status: ChosenStatus, options: SetStatusOptions = {}): Promise<void> {
    if (status !== 'online' && status !== 'away') {
      throw new PresenceClientError('invalid_status', 'status must be online or away');
    }
    const reason = options.reason;
    if (reason !== undefined && status !== 'away') {
      throw new PresenceClientError('invalid_message', 'a reason goes only with status away');
    }
    if (reason !== undefined && (typeof reason !== 'string' || !ID_PATTERN.test(reason))) {
      throw new PresenceClientError('invalid_message', 'reason must be the id of one of the workspace\'s away reasons');
    }
    const link = this.transport.current;
    if (!link?.synced || link.socket.readyState !== OPEN) {
      throw new PresenceClientError('not_connected', 'setStatus needs an open connection');
    }
    this.activity.take(); // setStatus counts as activity on the server
    const inEffect = this.me?.status === status && this.me.awayReason === reason;
    const confirmed = inEffect ? undefined : this.waiters.waitFor(
      (message) =>
        (message.type === 'presence' &&
          message.changes.some(
            (change) => change.userId === this.merge.self && change.reason === 'manual' && change.status === status && change.awayReason === reason,
          )) ||
        message.type === 'error',
    );
    link.socket.send(JSON.stringify(reason === undefined ? { action: 'setStatus', status } : { action: 'setStatus', status, awayReason: reason }));
    if (!confirmed) return; // already in effect: the server publishes nothing, there is nothing to wait for
    const reply = await confirmed;
    if (reply.type === 'error') throw new PresenceClientError(reply.code, reply.message);
  }

  /** The teams this client follows, or null for the whole workspace. */
  get subscription(): readonly string[] | null {
    return this.merge.scope;
  }

  /**
   * Follows only these teams (and the agent themself), or the whole workspace with null. On an
   * open connection it resolves once the roster holds exactly that scope (every part of its
   * snapshot in); before the connection is open it resolves at once and the scope is applied
   * when it opens. It is applied again on every reconnect and handover. Rejects with `invalid_message` for anything but null or 1 to 50 team ids.
   */
  async subscribe(teams: readonly string[] | null): Promise<void> {
    if (teams !== null && (!Array.isArray(teams) || teams.length === 0 || teams.length > MAX_TEAMS || !teams.every((team) => typeof team === 'string' && ID_PATTERN.test(team)))) {
      throw new PresenceClientError('invalid_message', `teams must be null (the whole workspace) or 1 to ${MAX_TEAMS} team ids`);
    }
    const scope = normalizeScope(teams);
    this.merge.scope = scope;
    const link = [this.transport.current, this.transport.incoming].find((candidate) => candidate?.opened && candidate.socket.readyState === OPEN);
    if (!link) return;
    const answered = this.waiters.waitFor(
      (message) => (message.type === 'snapshot' && sameScope(message.scope, scope)) || message.type === 'error',
    );
    link.requestedAt = this.merge.changeCount;
    link.scope = scope;
    link.socket.send(JSON.stringify({ action: 'subscribe', teams: scope }));
    const reply = await answered;
    if (reply.type === 'error') throw new PresenceClientError(reply.code, reply.message);
  }

  /**
   * Offline on every device; every connection of the user is closed. While the client is
   * (re)connecting it reconnects at once and waits for the connection up to `requestTimeoutMs`
   * (then rejects with `timeout`). Whatever the outcome, this client never reconnects afterwards.
   * On a client that is closed (never connected, or closed) it rejects with `not_connected`.
   */
  async logout(): Promise<void> {
    if (this.transport.stopped) throw new PresenceClientError('not_connected', 'the client is closed: connect() first');
    try {
      if (!this.transport.current?.synced || this.transport.current.socket.readyState !== OPEN) {
        // Waiting out a backoff would only delay the logout.
        this.wake();
        await this.ready.waitWithin(this.synced, this.options.requestTimeoutMs);
      }
      const link = this.transport.current;
      if (!link || link.socket.readyState !== OPEN) throw new PresenceClientError('not_connected', 'the connection closed before the logout could be sent');
      const done = this.waiters.waitFor((message) => message.type === 'loggedOut');
      link.socket.send(JSON.stringify({ action: 'logout' }));
      await done;
    } finally {
      this.close();
    }
  }

  /** Closes the connection; nothing reconnects until `connect()` is called again. */
  close(): void {
    if (this.transport.stopped) return;
    this.transport.stop();
    this.activity.stop();
    const error = new PresenceClientError('closed', 'the client was closed');
    this.ready.rejectAll(error);
    this.waiters.resolveAll({ type: 'error', code: 'closed', message: error.message });
    this.setState('closed');
  }

  /**
   * Reconnects now if the client is waiting out a backoff: the SDK calls it when the page becomes
   * visible or the browser is back online, where waiting up to the maximum delay would be wasted.
   */
  wake(): void {
    this.transport.wake();
  }

  /** A heartbeat now (activity while offline, the tab shown again), at most one a second. */
  promptBeat(): void {
    if (this.transport.stopped) return;
    this.activity.prompt();
  }

  // ---------- what goes on a connection ----------

  /** The current connection has its snapshot. */
  private get synced(): boolean {
    return this.transport.current?.synced === true;
  }

  private onMessage(link: Link, message: ServerMessage): void {
    if (message.type === 'snapshot') {
      const whole = assembleSnapshot(link.assembling, message);
      if (!whole) return;
      this.merge.applySnapshot(whole, link.requestedAt);
      this.emitter.emit('roster', this.merge.entries);
      if (!link.synced) {
        this.transport.promote(link);
        this.setState('open');
        this.ready.resolveAll();
      }
      this.waiters.resolveWaiters(whole);
      return;
    } else if (message.type === 'presence') {
      for (const change of message.changes) {
        if (!this.merge.applyChange(change)) continue;
        this.emitter.emit('presence', { type: 'presence', ...change });
        this.emitter.emit('roster', this.merge.entries);
      }
    } else if (message.type === 'loggedOut') {
      // Logged out here, on another device or by an admin: never reconnect.
      this.waiters.resolveWaiters(message);
      this.emitter.emit('loggedOut', { type: 'loggedOut', at: message.at, ...(typeof message.by === 'string' ? { by: message.by } : {}) });
      this.close();
      return;
    } else if (message.type === 'error') {
      // The connection's token ended: the server closes this connection. A new one opens now with
      // a fresh token, overlapping it like a handover, so the agent never looks offline.
      if (message.code === 'token_expired') {
        this.transport.renew(link);
        // What was waiting for an answer on this connection is told why there will be none.
        this.waiters.resolveMatching(message);
        return;
      }
      if (!this.waiters.resolveWaiters(message)) this.emitter.emit('error', new PresenceClientError(message.code, message.message));
      // A connection still waiting for its first snapshot was refused one (busy, rate limited,
      // an internal error): ask again after a backoff, or it would never open.
      if (!link.synced && link.opened && !link.retry) {
        link.retry = setTimeout(() => {
          link.retry = undefined;
          if (!this.transport.stopped && !link.synced && link.socket.readyState === OPEN) this.requestSnapshot(link);
        }, this.transport.backoff(link.snapshotAttempts++));
      }
      return;
    }
    this.waiters.resolveWaiters(message);
  }

  /** Asks for a snapshot of the subscription on this connection (the first one, or again after a refusal). */
  private requestSnapshot(link: Link): void {
    link.requestedAt = this.merge.changeCount;
    // A subscribe only if the subscription changed since the URL asked for one.
    link.socket.send(JSON.stringify(sameScope(link.scope, this.merge.scope) ? { action: 'getPresence' } : { action: 'subscribe', teams: this.merge.scope }));
  }

  private beat(): void {
    const link = this.transport.current;
    if (!link || link.socket.readyState !== OPEN) return;
    link.socket.send(JSON.stringify({ action: 'heartbeat', active: this.activity.take() }));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emitter.emit('connection', state);
  }
}
