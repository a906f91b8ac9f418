/**
 * PresenceClient: one agent's connection to the presence service, for browsers and Node.
 *
 * - keeps the roster of its subscription (the whole workspace, or chosen teams and the agent)
 *   from a snapshot plus live `presence` messages; a snapshot in parts replaces the roster only
 *   once every part is in; an entry only changes for news at least as new as what it holds, so an
 *   old message or a snapshot taken before a change never brings back a stale status;
 * - heartbeats every interval with `active` = activity since the previous beat (DOM listeners in
 *   browsers, `markActive()` elsewhere), with a Worker timer that background tabs do not slow down;
 * - reconnects with capped exponential backoff and full jitter, asking for a fresh token each time;
 * - hands over to a new connection before API Gateway's 2-hour cut, overlapping the two, so the
 *   agent never goes offline for it;
 * - stops for good on `logout()` (every tab of the user gets `loggedOut`), when an admin signs
 *   the user out (the `loggedOut` event says who), and on `close()`;
 * - offers `store` (`subscribe` + `getSnapshot`) for UIs, e.g. React's `useSyncExternalStore`.
 * No runtime dependency: pass `ws` as `WebSocket` on Node 20.
 */
import {
  type ChosenStatus,
  type LoggedOutMessage,
  type PresenceChange,
  type PresenceEvent,
  parseServerMessage,
  type RosterEntry,
  type ServerMessage,
  type SnapshotMessage,
} from './protocol.ts';

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

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type Roster = ReadonlyMap<string, Readonly<RosterEntry>>;

/** The WHATWG WebSocket surface the client uses; browsers' WebSocket and `ws` both provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
/** Any WebSocket class: the browser's, or `ws` on Node (its event types differ slightly). */
export type WebSocketConstructor = new (url: string) => object;

export interface PresenceClientOptions {
  /** The WebSocket URL without the token, e.g. `wss://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  url: string;
  /** Called on every connect and reconnect, so tokens can be refreshed. */
  token: () => string | Promise<string>;
  /** Defaults to `globalThis.WebSocket`; pass `ws` on Node 20. */
  WebSocket?: WebSocketConstructor;
  heartbeatIntervalMs?: number;
  /** `auto`: DOM activity listeners (browsers); `manual`: call `markActive()`. */
  activity?: 'auto' | 'manual';
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /** Hand over to a new connection after this long (API Gateway closes at 2 hours). */
  maxConnectionAgeMs?: number;
  /** How long `setStatus` and `connect` wait for the server. */
  requestTimeoutMs?: number;
  /** For tests: the jitter source. */
  random?: () => number;
}

export type PresenceClientErrorCode =
  | 'invalid_status'
  | 'invalid_json'
  | 'unknown_action'
  | 'invalid_message'
  | 'rate_limited'
  | 'not_connected'
  | 'closed'
  | 'timeout'
  | 'connection_failed'
  | 'token_failed'
  | 'too_many_connections'
  | (string & {});

/** Every error the client reports: the server's error codes and the client's own. */
export class PresenceClientError extends Error {
  override readonly name = 'PresenceClientError';
  constructor(
    readonly code: PresenceClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What a UI renders: a new frozen value whenever the roster or the connection state changes, the
 * same value otherwise (so `useSyncExternalStore` and memoized selectors re-render only on news).
 */
export interface PresenceSnapshot {
  readonly roster: Roster;
  readonly connection: ConnectionState;
  /** This client's own entry, once the first snapshot arrived. */
  readonly me: Readonly<RosterEntry> | undefined;
}

/** A framework-neutral external store: the shape React's `useSyncExternalStore` takes. */
export interface PresenceStore {
  /** Calls `listener` after every change of the snapshot; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
  getSnapshot(): PresenceSnapshot;
}

/** `setStatus`'s options. */
export interface SetStatusOptions {
  /** With `away` only: one of the workspace's away reason ids (its settings' `awayReasons`). */
  reason?: string | undefined;
}

interface Events {
  roster: (roster: Roster) => void;
  presence: (event: PresenceEvent) => void;
  connection: (state: ConnectionState) => void;
  error: (error: PresenceClientError) => void;
  /** The user was logged out on every device: by themself, or by an admin (`by`). The client closes right after. */
  loggedOut: (event: LoggedOutMessage) => void;
}

const OPEN = 1;
const DEFAULT_HEARTBEAT_MS = 30_000;
const DEFAULT_MAX_AGE_MS = 2 * 3_600_000 - 10 * 60_000;
/** Immediate heartbeats (activity while offline, tab shown) are at most this frequent. */
const PROMPT_BEAT_SPACING_MS = 1000;

/** Full jitter: a uniform delay in [0, min(max, min * 2^attempt)). */
export function backoffDelay(attempt: number, minDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** The `sub` claim of a JWT, read without verifying (the server verifies). */
function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { sub?: unknown };
    return typeof json.sub === 'string' ? json.sub : undefined;
  } catch {
    return undefined;
  }
}

/** One socket and what was learnt on it. */
interface Link {
  socket: WebSocketLike;
  /** The subscription its URL asked for (`teams`): its item holds that scope from `$connect` on. */
  scope: readonly string[] | null;
  opened: boolean;
  synced: boolean;
  openedAt: number;
  handover?: ReturnType<typeof setTimeout>;
  /** Parts of snapshots still coming in, by snapshot id. */
  assembling: Map<string, SnapshotMessage[]>;
  /** The client's change count when its last snapshot was asked for on this link. */
  requestedAt: number;
  /** The handshake was refused at the per-user connection cap (429; seen on Node only). */
  refusedForCap?: boolean;
  /** Refused requests for the first snapshot so far, and the timer of the next request. */
  snapshotAttempts: number;
  retry?: ReturnType<typeof setTimeout> | undefined;
}

/** Snapshots assembled at once on one connection; an older unfinished one is dropped. */
const MAX_ASSEMBLING = 4;

/** The ids the server accepts (PROTOCOL.md): 1 to 128 of A-Z a-z 0-9 _ . @ : - */
const ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;
const MAX_TEAMS = 50;

function normalizeScope(teams: readonly string[] | null): string[] | null {
  return teams === null ? null : [...new Set(teams)].sort();
}

function sameScope(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  const left = normalizeScope(a)!;
  const right = normalizeScope(b)!;
  return left.length === right.length && left.every((team, index) => team === right[index]);
}

type Waiter = { match: (message: ServerMessage) => boolean; settle: (message: ServerMessage) => void };

export class PresenceClient {
  private readonly options: Required<Omit<PresenceClientOptions, 'WebSocket' | 'reconnect'>> & {
    WebSocket: WebSocketConstructor;
    minDelayMs: number;
    maxDelayMs: number;
  };
  private readonly listeners: { [K in keyof Events]: Set<Events[K]> } = {
    roster: new Set(),
    presence: new Set(),
    connection: new Set(),
    error: new Set(),
    loggedOut: new Set(),
  };
  private entries = new Map<string, RosterEntry>();
  /** The link heartbeats and requests go on. */
  private current: Link | undefined;
  /** A link being opened: the first one, a reconnect, or a handover. */
  private incoming: Link | undefined;
  private state: ConnectionState = 'closed';
  private stopped = true;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private activeSinceBeat = false;
  private lastPromptBeat = 0;
  private promptBeatTimer: ReturnType<typeof setTimeout> | undefined;
  private ticker: { stop(): void } | undefined;
  private detachActivity: (() => void) | undefined;
  private waiters: Waiter[] = [];
  private userId: string | undefined;
  /** A new connection's token is being fetched (openLink before the socket exists). */
  private opening = false;
  /** Changes applied so far, and when (in that count) each user last changed: snapshots use it. */
  private changeCount = 0;
  private readonly changedAt = new Map<string, number>();
  /** The teams this client follows; null: the whole workspace. Sent again on every new connection. */
  private scope: string[] | null = null;
  private readyWaiters: Array<{ resolve: () => void; reject: (error: PresenceClientError) => void }> = [];
  private readonly storeListeners = new Set<() => void>();
  private storeSnapshot: PresenceSnapshot | undefined;

  /** The roster and connection state as one immutable value, for UIs (see PresenceStore). */
  readonly store: PresenceStore = {
    subscribe: (listener) => {
      this.storeListeners.add(listener);
      return () => {
        this.storeListeners.delete(listener);
      };
    },
    getSnapshot: () => {
      const held = this.storeSnapshot;
      if (held && held.roster === this.entries && held.connection === this.state) return held;
      this.storeSnapshot = Object.freeze({ roster: this.entries, connection: this.state, me: this.me });
      return this.storeSnapshot;
    },
  };

  constructor(options: PresenceClientOptions) {
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketImpl) throw new PresenceClientError('not_connected', 'no WebSocket implementation: pass one (e.g. `ws`) as options.WebSocket');
    this.options = {
      url: options.url,
      token: options.token,
      WebSocket: WebSocketImpl,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS,
      activity: options.activity ?? 'auto',
      minDelayMs: options.reconnect?.minDelayMs ?? 500,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 30_000,
      maxConnectionAgeMs: options.maxConnectionAgeMs ?? DEFAULT_MAX_AGE_MS,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      random: options.random ?? Math.random,
    };
  }

  // ---------- public API ----------

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** The current roster: every user of the subscription (by default the workspace) the server knows. */
  get roster(): Roster {
    return this.entries;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** This client's own entry, once the first snapshot arrived. */
  get me(): Readonly<RosterEntry> | undefined {
    return this.userId === undefined ? undefined : this.entries.get(this.userId);
  }

  /**
   * Opens the connection; resolves once the roster is loaded. Keeps retrying through failures
   * (each reported as an `error` event); rejects only if `close()` or `logout()` ends it first.
   */
  connect(): Promise<void> {
    if (!this.stopped) return this.whenReady();
    this.stopped = false;
    this.attempt = 0;
    this.setState('connecting');
    this.startHeartbeats();
    if (this.options.activity === 'auto') this.detachActivity = attachActivity(this);
    const ready = this.whenReady();
    void this.openLink();
    return ready;
  }

  /** Records activity; the next heartbeat reports it. Offline agents are sent one at once. */
  markActive(): void {
    this.activeSinceBeat = true;
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
    const link = this.current;
    if (!link?.synced || link.socket.readyState !== OPEN) {
      throw new PresenceClientError('not_connected', 'setStatus needs an open connection');
    }
    this.activeSinceBeat = false; // setStatus counts as activity on the server
    const inEffect = this.me?.status === status && this.me.awayReason === reason;
    const confirmed = inEffect ? undefined : this.waitFor(
      (message) =>
        (message.type === 'presence' &&
          message.changes.some(
            (change) => change.userId === this.userId && change.reason === 'manual' && change.status === status && change.awayReason === reason,
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
    return this.scope;
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
    this.scope = scope;
    const link = [this.current, this.incoming].find((candidate) => candidate?.opened && candidate.socket.readyState === OPEN);
    if (!link) return;
    const answered = this.waitFor(
      (message) => (message.type === 'snapshot' && sameScope(message.scope, scope)) || message.type === 'error',
    );
    link.requestedAt = this.changeCount;
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
    if (this.stopped) throw new PresenceClientError('not_connected', 'the client is closed: connect() first');
    try {
      if (!this.current?.synced || this.current.socket.readyState !== OPEN) {
        // Waiting out a backoff would only delay the logout.
        this.wake();
        await this.whenReadyWithin(this.options.requestTimeoutMs);
      }
      const link = this.current;
      if (!link || link.socket.readyState !== OPEN) throw new PresenceClientError('not_connected', 'the connection closed before the logout could be sent');
      const done = this.waitFor((message) => message.type === 'loggedOut');
      link.socket.send(JSON.stringify({ action: 'logout' }));
      await done;
    } finally {
      this.close();
    }
  }

  /** Closes the connection; nothing reconnects until `connect()` is called again. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.promptBeatTimer);
    this.ticker?.stop();
    this.ticker = undefined;
    this.detachActivity?.();
    this.detachActivity = undefined;
    for (const link of [this.current, this.incoming]) if (link) this.dropLink(link, 1000);
    this.current = undefined;
    this.incoming = undefined;
    const error = new PresenceClientError('closed', 'the client was closed');
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
    for (const waiter of this.waiters.splice(0)) waiter.settle({ type: 'error', code: 'closed', message: error.message });
    this.setState('closed');
  }

  // ---------- connections ----------

  private async openLink(handover = false): Promise<void> {
    // Set before the token is awaited: the current connection may close meanwhile (a token that
    // ended), and onClose must know a new one is on its way.
    this.opening = true;
    let token: string;
    try {
      token = await this.options.token();
    } catch (error) {
      this.opening = false;
      this.report(new PresenceClientError('token_failed', 'the token callback failed', { cause: error }));
      // A failed handover is retried only if there is no current connection left to fall back on.
      if (!handover || !this.current) this.scheduleRetry();
      return;
    }
    this.opening = false;
    if (this.stopped) return;
    this.userId = subjectOf(token) ?? this.userId;
    const separator = this.options.url.includes('?') ? '&' : '?';
    // The subscription starts with the connection: no subscribe message, no scope to rewrite.
    const scope = this.scope;
    const teams = scope === null ? '' : `&teams=${encodeURIComponent(scope.join(','))}`;
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(`${this.options.url}${separator}token=${encodeURIComponent(token)}${teams}`) as WebSocketLike;
    } catch (error) {
      this.report(new PresenceClientError('connection_failed', 'could not open the WebSocket', { cause: error }));
      if (!handover || !this.current) this.scheduleRetry();
      return;
    }
    const link: Link = { socket, scope, opened: false, synced: false, openedAt: 0, assembling: new Map(), requestedAt: 0, snapshotAttempts: 0 };
    this.incoming = link;
    socket.onopen = () => {
      link.opened = true;
      link.openedAt = Date.now();
      // The first snapshot is of the subscription: a team agent never loads the whole workspace.
      this.requestSnapshot(link);
    };
    socket.onmessage = (event) => {
      const message = parseServerMessage(event.data);
      if (message) this.onMessage(link, message);
    };
    socket.onerror = (event) => {
      // The close event follows. Browsers say nothing more; Node's `ws` names the handshake's
      // status, which tells a refusal at the per-user connection cap (429) apart.
      const text = (event as { message?: unknown } | null)?.message;
      if (!link.opened && typeof text === 'string' && /\b429\b/.test(text)) link.refusedForCap = true;
    };
    socket.onclose = (event) => this.onClose(link, event.code, event.reason);
  }

  private onMessage(link: Link, message: ServerMessage): void {
    if (message.type === 'snapshot') {
      const whole = this.assemble(link, message);
      if (!whole) return;
      this.applySnapshot(whole, link.requestedAt);
      if (!link.synced) this.promote(link);
      this.settleWaiters(whole);
      return;
    } else if (message.type === 'presence') {
      for (const change of message.changes) this.applyPresence(change);
    } else if (message.type === 'loggedOut') {
      // Logged out here, on another device or by an admin: never reconnect.
      this.settleWaiters(message);
      this.emit('loggedOut', { type: 'loggedOut', at: message.at, ...(typeof message.by === 'string' ? { by: message.by } : {}) });
      this.close();
      return;
    } else if (message.type === 'error') {
      // The connection's token ended: the server closes this connection. A new one opens now with
      // a fresh token, overlapping it like a handover, so the agent never looks offline.
      if (message.code === 'token_expired') {
        if (!this.stopped && this.current === link && !this.incoming && !this.opening) void this.openLink(true);
        // What was waiting for an answer on this connection is told why there will be none.
        const waiting = this.waiters.filter((waiter) => waiter.match(message));
        this.waiters = this.waiters.filter((waiter) => !waiting.includes(waiter));
        for (const waiter of waiting) waiter.settle(message);
        return;
      }
      if (!this.settleWaiters(message)) this.report(new PresenceClientError(message.code, message.message));
      // A connection still waiting for its first snapshot was refused one (busy, rate limited,
      // an internal error): ask again after a backoff, or it would never open.
      if (!link.synced && link.opened && !link.retry) {
        const delay = backoffDelay(link.snapshotAttempts++, this.options.minDelayMs, this.options.maxDelayMs, this.options.random);
        link.retry = setTimeout(() => {
          link.retry = undefined;
          if (!this.stopped && !link.synced && link.socket.readyState === OPEN) this.requestSnapshot(link);
        }, delay);
      }
      return;
    }
    this.settleWaiters(message);
  }

  /** A link with its snapshot becomes the current one; a previous one is closed (the handover). */
  private promote(link: Link): void {
    link.synced = true;
    const previous = this.current;
    this.current = link;
    if (this.incoming === link) this.incoming = undefined;
    if (previous && previous !== link) this.dropLink(previous, 1000);
    this.attempt = 0;
    // A retry scheduled while this connection was opening is not needed any more.
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    link.handover = setTimeout(() => this.handover(link), this.options.maxConnectionAgeMs);
    this.setState('open');
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
  }

  /** Opens the next connection while this one still works; promote() closes the old one. */
  private handover(link: Link): void {
    if (this.stopped || this.current !== link || this.incoming) return;
    void this.openLink(true);
  }

  private onClose(link: Link, code: number, reason: string): void {
    clearTimeout(link.handover);
    clearTimeout(link.retry);
    if (this.incoming === link) this.incoming = undefined;
    if (this.stopped) return;
    if (this.current === link) {
      this.current = undefined;
      // A new connection is already opening (a handover, or a token that ended): it takes over
      // once its snapshot is in, with no 'reconnecting' in between; if it fails, its own close
      // reports it and schedules the retry.
      if (this.incoming || this.opening) return;
    } else if (this.current) {
      // A handover attempt failed while the current connection still works: try again later.
      link.handover = undefined;
      const current = this.current;
      clearTimeout(current.handover);
      current.handover = setTimeout(() => this.handover(current), backoffDelay(this.attempt++, this.options.minDelayMs, this.options.maxDelayMs, this.options.random));
      return;
    }
    if (link.refusedForCap) {
      this.report(new PresenceClientError('too_many_connections', 'this user already has as many open connections as allowed; retrying later'));
      // Other tabs must close first: wait the longest backoff rather than knock again soon.
      this.attempt = Math.max(this.attempt, 30);
    } else {
      const detail = link.opened ? `the connection closed (${code}${reason ? `: ${reason}` : ''})` : 'the connection could not be opened (refused or unreachable)';
      this.report(new PresenceClientError('connection_failed', detail));
    }
    this.setState('reconnecting');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt++, this.options.minDelayMs, this.options.maxDelayMs, this.options.random);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.openLink();
    }, delay);
  }

  private dropLink(link: Link, code: number): void {
    clearTimeout(link.handover);
    clearTimeout(link.retry);
    const socket = link.socket;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(code);
    } catch {
      // already closed
    }
  }

  // ---------- roster ----------

  /** Asks for a snapshot of the subscription on this connection (the first one, or again after a refusal). */
  private requestSnapshot(link: Link): void {
    link.requestedAt = this.changeCount;
    // A subscribe only if the subscription changed since the URL asked for one.
    link.socket.send(JSON.stringify(sameScope(link.scope, this.scope) ? { action: 'getPresence' } : { action: 'subscribe', teams: this.scope }));
  }

  /** Collects a snapshot's parts; returns the whole snapshot once its last part is in. */
  private assemble(link: Link, part: SnapshotMessage): SnapshotMessage | undefined {
    const parts = Number.isInteger(part.parts) && part.parts > 0 ? part.parts : 1;
    if (parts === 1) return part;
    const received = link.assembling.get(part.id) ?? [];
    if (!received.some((known) => known.part === part.part)) received.push(part);
    link.assembling.delete(part.id);
    if (received.length < parts) {
      link.assembling.set(part.id, received);
      // A snapshot whose parts stopped coming (the connection is dropping) must not pile up.
      if (link.assembling.size > MAX_ASSEMBLING) link.assembling.delete(link.assembling.keys().next().value!);
      return undefined;
    }
    received.sort((a, b) => a.part - b.part);
    return { ...part, part: 1, parts: 1, users: received.flatMap((each) => each.users) };
  }

  /**
   * Replaces the roster with the snapshot. A user it lacks stays if a change about them was
   * applied after the snapshot was asked for (`requestedAt`, in applied changes): the snapshot
   * may have been read just before that user's first write landed.
   */
  private applySnapshot(snapshot: SnapshotMessage, requestedAt: number): void {
    const next = new Map<string, RosterEntry>();
    for (const user of snapshot.users) {
      const known = this.entries.get(user.userId);
      // A change newer than the snapshot (a greater version) wins over it.
      next.set(user.userId, known && known.version > user.version ? known : { ...user, teams: [...user.teams] });
    }
    for (const [userId, known] of this.entries) {
      if (!next.has(userId) && (this.changedAt.get(userId) ?? -1) >= requestedAt && this.follows(known)) next.set(userId, known);
    }
    this.entries = next;
    this.emit('roster', this.entries);
  }

  /** Whether the subscription covers this user (the server sends only those; this guards the roster). */
  private follows(user: { userId: string; teams: readonly string[] }): boolean {
    return this.scope === null || user.userId === this.userId || user.teams.some((team) => this.scope!.includes(team));
  }

  private applyPresence(change: PresenceChange): void {
    // The server sends only the subscription's changes; one from before a subscribe took effect is not for this roster.
    if (!this.follows(change)) return;
    const known = this.entries.get(change.userId);
    // Delivery is at least once, both connections deliver during a handover, and a change can be
    // older than the snapshot: only a greater version is news.
    if (known && change.version <= known.version) return;
    // The server records activity with these (a connect counts as activity).
    const activity = change.reason === 'active' || change.reason === 'manual' || change.reason === 'connect';
    this.entries = new Map(this.entries).set(change.userId, {
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
    this.changedAt.set(change.userId, this.changeCount++);
    this.emit('presence', { type: 'presence', ...change });
    this.emit('roster', this.entries);
  }

  // ---------- heartbeats ----------

  private startHeartbeats(): void {
    this.ticker?.stop();
    this.ticker = startTicker(this.options.heartbeatIntervalMs, () => this.beat());
  }

  private beat(): void {
    const link = this.current;
    if (!link || link.socket.readyState !== OPEN) return;
    const active = this.activeSinceBeat;
    this.activeSinceBeat = false;
    link.socket.send(JSON.stringify({ action: 'heartbeat', active }));
  }

  /**
   * Reconnects now if the client is waiting out a backoff: the SDK calls it when the page becomes
   * visible or the browser is back online, where waiting up to the maximum delay would be wasted.
   */
  wake(): void {
    if (this.stopped || this.incoming || this.opening || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.openLink();
  }

  /** A heartbeat now (activity while offline, the tab shown again), at most one a second. */
  promptBeat(): void {
    if (this.stopped || this.promptBeatTimer) return;
    const wait = this.lastPromptBeat + PROMPT_BEAT_SPACING_MS - Date.now();
    const send = () => {
      this.promptBeatTimer = undefined;
      this.lastPromptBeat = Date.now();
      this.beat();
    };
    if (wait <= 0) send();
    else this.promptBeatTimer = setTimeout(send, wait);
  }

  // ---------- plumbing ----------

  private whenReady(): Promise<void> {
    if (this.current?.synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** whenReady, or a `timeout` rejection after `ms`. */
  private whenReadyWithin(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((waiter) => waiter !== entry);
        reject(new PresenceClientError('timeout', `no connection within ${ms} ms`));
      }, ms);
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: PresenceClientError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (this.current?.synced) entry.resolve();
      else this.readyWaiters.push(entry);
    });
  }

  private waitFor(match: (message: ServerMessage) => boolean): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== entry);
        reject(new PresenceClientError('timeout', `no answer from the server within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      const entry: Waiter = {
        match,
        settle: (message) => {
          clearTimeout(timer);
          if (message.type === 'error' && message.code === 'closed') reject(new PresenceClientError('closed', message.message));
          else resolve(message);
        },
      };
      this.waiters.push(entry);
    });
  }

  /** Settles the oldest waiter the message answers; true if one did. */
  private settleWaiters(message: ServerMessage): boolean {
    const index = this.waiters.findIndex((waiter) => waiter.match(message));
    if (index < 0) return false;
    const [waiter] = this.waiters.splice(index, 1);
    waiter?.settle(message);
    return true;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('connection', state);
  }

  private report(error: PresenceClientError): void {
    this.emit('error', error);
  }

  private emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const listeners = [...this.listeners[event]] as Array<(...values: Parameters<Events[K]>) => void>;
    // The store's listeners hear of every new snapshot: a roster or a connection state.
    if (event === 'roster' || event === 'connection') listeners.push(...this.storeListeners);
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        // A listener's bug must not break the connection; surface it where it can be seen.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}

// ---------- browser helpers ----------

/**
 * A repeating timer. In browsers a Worker's timer keeps its pace in background tabs, where the
 * page's own timers are slowed to once a minute or less; elsewhere setInterval.
 */
function startTicker(intervalMs: number, tick: () => void): { stop(): void } {
  const scope = globalThis as { Worker?: typeof Worker; Blob?: typeof Blob; URL?: typeof URL; document?: unknown };
  if (scope.Worker && scope.Blob && scope.URL?.createObjectURL && scope.document) {
    try {
      const source = `let t;onmessage=(e)=>{clearInterval(t);if(e.data>0)t=setInterval(()=>postMessage(0),e.data)}`;
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new Worker(url);
      URL.revokeObjectURL(url);
      worker.onmessage = () => tick();
      worker.postMessage(intervalMs);
      return { stop: () => worker.terminate() };
    } catch {
      // A Content-Security-Policy without blob: workers: fall back to the page's timer.
    }
  }
  const timer = setInterval(tick, intervalMs);
  return { stop: () => clearInterval(timer) };
}

const ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'touchstart', 'wheel', 'focus'] as const;

/** DOM activity listeners (throttled to one mark a second) and a prompt beat when the tab is shown. */
function attachActivity(client: PresenceClient): (() => void) | undefined {
  const scope = globalThis as { addEventListener?: typeof addEventListener; document?: Document };
  if (!scope.addEventListener || !scope.document) return undefined;
  const document = scope.document;
  let last = 0;
  const onActivity = () => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    client.markActive();
  };
  const onVisibility = () => {
    if (document.visibilityState !== 'visible') return;
    client.markActive();
    client.promptBeat();
    client.wake();
  };
  const onOnline = () => client.wake();
  for (const name of ACTIVITY_EVENTS) scope.addEventListener(name, onActivity, { passive: true, capture: true });
  document.addEventListener('visibilitychange', onVisibility);
  scope.addEventListener('online', onOnline);
  return () => {
    for (const name of ACTIVITY_EVENTS) globalThis.removeEventListener(name, onActivity, { capture: true });
    document.removeEventListener('visibilitychange', onVisibility);
    globalThis.removeEventListener('online', onOnline);
  };
}
