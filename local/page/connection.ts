/**
 * The page's own presence client: one WebSocket, heartbeats with activity, the workspace roster
 * kept from the snapshot and live `presence` messages, reconnect with capped backoff. No DOM
 * rendering here: the client SDK (issue 5) replaces this module, the view stays.
 */
import type { ErrorMessage, PresenceMessage, ServerMessage, SnapshotMessage } from '#app/messages.ts';
import type { ChosenStatus, Reason, Status } from '#domain/presence.ts';

export type { ChosenStatus, Reason, Status };

export interface RosterEntry {
  userId: string;
  name: string;
  teams: string[];
  status: Status;
  /** Why the status last changed, when a `presence` message said so (a snapshot does not). */
  reason: Reason | null;
  since: number;
  /** Server time of the information this entry holds; older news never overwrites newer. */
  updatedAt: number;
}

export type Roster = ReadonlyMap<string, RosterEntry>;

const STATUS_RANK: Record<Status, number> = { online: 0, away: 1, offline: 2 };

/** Online first, then away, then offline; by name within each, user id breaking ties. */
export function sortRoster(entries: Iterable<RosterEntry>): RosterEntry[] {
  return [...entries].sort(
    (a, b) =>
      STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
      a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) ||
      (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
}

/** The roster a snapshot gives, keeping entries a presence message made newer than the snapshot. */
export function applySnapshot(roster: Roster, snapshot: SnapshotMessage): Map<string, RosterEntry> {
  const next = new Map<string, RosterEntry>();
  for (const user of snapshot.users) {
    const known = roster.get(user.userId);
    if (known && known.updatedAt > snapshot.at) {
      next.set(user.userId, known);
      continue;
    }
    next.set(user.userId, {
      userId: user.userId,
      name: user.name,
      teams: user.teams,
      status: user.status,
      // Keep the reason we heard when the snapshot agrees with it: it explains an offline status.
      reason: known && known.status === user.status ? known.reason : null,
      since: user.since,
      updatedAt: snapshot.at,
    });
  }
  for (const known of roster.values()) {
    if (!next.has(known.userId) && known.updatedAt > snapshot.at) next.set(known.userId, known);
  }
  return next;
}

/** The roster after one `presence` message; unchanged when the message is older than what we know. */
export function applyPresence(roster: Roster, message: PresenceMessage): Map<string, RosterEntry> {
  const next = new Map(roster);
  const known = roster.get(message.userId);
  if (known && known.updatedAt > message.at) return next;
  next.set(message.userId, {
    userId: message.userId,
    name: message.name,
    teams: message.teams,
    status: message.status,
    reason: message.reason,
    since: message.at,
    updatedAt: message.at,
  });
  return next;
}

/** Delay before reconnect attempt `attempt` (0-based): doubling from 500 ms, capped at 15 s, with jitter. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(15_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export type ConnectionState =
  /** Opening the socket (first time or after a drop). */
  | 'connecting'
  /** Open: heartbeats flow, the roster is live. */
  | 'open'
  /** The socket dropped; the next attempt is scheduled. */
  | 'waiting'
  /** Stopped for good: logged out, refused, or closed by the page. */
  | 'stopped';

export interface ConnectionOptions {
  wsUrl: string;
  token: string;
  /** The signed-in user, to tell their own status apart. */
  userId: string;
  heartbeatIntervalMs: number;
  /**
   * A socket closed before it opened: a browser cannot see the handshake's HTTP status, so the
   * caller finds out whether the token is refused (`stop`) or the network is down (`retry`).
   */
  onHandshakeFailed(): Promise<'retry' | 'stop'>;
  onRoster(roster: Roster): void;
  onState(state: ConnectionState): void;
  onServerError(error: ErrorMessage): void;
  /** This user logged out (from this tab or any other): the connection is stopped. */
  onLoggedOut(): void;
  /** Tests and Node pass their own; the browser's by default. */
  createSocket?: (url: string) => WebSocket;
}

/** WebSocket.OPEN, without needing a global WebSocket where this module is only imported. */
const OPEN = 1;

/** Immediate beats on activity while offline are throttled to this, well under the rate limit. */
const MIN_IMMEDIATE_BEAT_GAP_MS = 1000;

export class PresenceConnection {
  private socket: WebSocket | undefined;
  private state: ConnectionState = 'stopped';
  private roster: Map<string, RosterEntry> = new Map();
  private activeSinceBeat = false;
  private lastBeatAt = 0;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingBeat: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

  constructor(private readonly options: ConnectionOptions) {}

  get currentState(): ConnectionState {
    return this.state;
  }

  /** The signed-in user's own entry, once the snapshot has arrived. */
  get self(): RosterEntry | undefined {
    return this.roster.get(this.options.userId);
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.open();
  }

  /** Closes for good (the page signs out locally); no reconnect. */
  stop(): void {
    this.setState('stopped');
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000);
  }

  setStatus(status: ChosenStatus): void {
    this.send({ action: 'setStatus', status });
  }

  /** Asks the server to log this user out everywhere; `onLoggedOut` follows. */
  logout(): boolean {
    return this.send({ action: 'logout' });
  }

  /**
   * The user did something (pointer, key, touch, focus). Reported with the next heartbeat; at
   * once when the user is offline while connected (idle), so they come back without waiting.
   */
  noteActivity(): void {
    this.activeSinceBeat = true;
    if (this.self?.status === 'offline') this.beatNow();
  }

  /** The page became visible: report activity at once, and reconnect now if we were waiting. */
  wake(): void {
    this.activeSinceBeat = true;
    if (this.state === 'waiting') {
      clearTimeout(this.retryTimer);
      this.open();
      return;
    }
    this.beatNow();
  }

  /** A heartbeat now, or as soon as the minimum gap since the last one allows. */
  private beatNow(): void {
    if (this.state !== 'open' || this.pendingBeat !== undefined) return;
    const wait = this.lastBeatAt + MIN_IMMEDIATE_BEAT_GAP_MS - Date.now();
    if (wait <= 0) return this.heartbeat();
    this.pendingBeat = setTimeout(() => {
      this.pendingBeat = undefined;
      if (this.state === 'open') this.heartbeat();
    }, wait);
  }

  private heartbeat(): void {
    const active = this.activeSinceBeat;
    this.activeSinceBeat = false;
    this.lastBeatAt = Date.now();
    this.send({ action: 'heartbeat', active });
  }

  private open(): void {
    this.setState('connecting');
    const url = `${this.options.wsUrl}${this.options.wsUrl.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.options.token)}`;
    const socket = (this.options.createSocket ?? ((address: string) => new WebSocket(address)))(url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      opened = true;
      this.attempt = 0;
      this.setState('open');
      this.send({ action: 'getPresence' });
      this.lastBeatAt = Date.now();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs);
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket || typeof event.data !== 'string') return;
      let message: ServerMessage;
      try {
        message = JSON.parse(event.data) as ServerMessage;
      } catch {
        return;
      }
      this.receive(message);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.heartbeatTimer);
      if (this.state === 'stopped') return;
      if (opened) {
        this.retryLater();
        return;
      }
      this.setState('waiting');
      void this.options.onHandshakeFailed().then((verdict) => {
        if (this.state !== 'waiting') return;
        if (verdict === 'stop') this.stop();
        else this.retryLater();
      });
    });
  }

  private receive(message: ServerMessage): void {
    switch (message.type) {
      case 'snapshot':
        this.roster = applySnapshot(this.roster, message);
        this.options.onRoster(this.roster);
        return;
      case 'presence':
        this.roster = applyPresence(this.roster, message);
        this.options.onRoster(this.roster);
        return;
      case 'error':
        this.options.onServerError(message);
        return;
      case 'loggedOut':
        this.stop();
        this.options.onLoggedOut();
        return;
    }
  }

  private retryLater(): void {
    this.setState('waiting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), backoffDelay(this.attempt++));
  }

  private send(message: object): boolean {
    if (this.state !== 'open' || this.socket?.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState(state);
  }

  private clearTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.pendingBeat);
    this.pendingBeat = undefined;
  }
}
