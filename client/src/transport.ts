/**
 * The client's connections: each opened with a fresh token, reconnected with capped exponential
 * backoff and full jitter, and handed over to a new one before API Gateway's 2-hour cut (or when
 * a token ends), overlapping the two so the agent never goes offline for it. What is said on a
 * connection is the client's (index.ts): it promotes a connection once its snapshot is in.
 */
import { PresenceClientError } from './errors.ts';
import { parseServerMessage, type ServerMessage, type SnapshotMessage } from './protocol.ts';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

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

/** WebSocket's readyState when it can send. */
export const OPEN = 1;

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
export interface Link {
  socket: WebSocketLike;
  /** The subscription its URL asked for (`teams`): its item holds that scope from `$connect` on. */
  scope: readonly string[] | null;
  opened: boolean;
  synced: boolean;
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

export interface TransportOptions {
  url: string;
  token: () => string | Promise<string>;
  WebSocket: WebSocketConstructor;
  minDelayMs: number;
  maxDelayMs: number;
  maxConnectionAgeMs: number;
  /** How long the token callback may take before the attempt counts as failed. */
  requestTimeoutMs: number;
  random: () => number;
}

/** What the client does with its connections. */
export interface LinkHandler {
  /** A new connection's user (its token's `sub`, if readable), before its socket exists. */
  onSubject(userId: string | undefined): void;
  /** The subscription a new connection asks for in its URL. */
  scope(): readonly string[] | null;
  onOpen(link: Link): void;
  onMessage(link: Link, message: ServerMessage): void;
  /** No connection is left; the next attempt is scheduled. */
  onReconnecting(): void;
  report(error: PresenceClientError): void;
}

class TokenTimeout extends Error {
  override readonly name = 'TokenTimeout';
}

/**
 * The token callback's answer, or a TokenTimeout after `ms`: a callback that never settles (a
 * fetch with no timeout of its own) would otherwise keep every later connection from opening.
 * An answer that comes after the timeout is dropped.
 */
async function settleWithin(token: () => string | Promise<string>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TokenTimeout(`the token callback did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([token(), late]);
  } finally {
    clearTimeout(timer);
  }
}

export class Transport {
  /** Nothing reconnects; `begin()` ends it. */
  stopped = true;
  /** The link heartbeats and requests go on. */
  private currentLink: Link | undefined;
  /** A link being opened: the first one, a reconnect, or a handover. */
  private incomingLink: Link | undefined;
  /** A new connection's token is being fetched (open() before the socket exists). */
  private opening = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly options: TransportOptions,
    private readonly handler: LinkHandler,
  ) {}

  get current(): Link | undefined {
    return this.currentLink;
  }

  get incoming(): Link | undefined {
    return this.incomingLink;
  }

  /** Ready to open connections (after `stop()`, or at first). */
  begin(): void {
    this.stopped = false;
    this.attempt = 0;
  }

  /** The backoff delay of this attempt, with the client's bounds and jitter. */
  backoff(attempt: number): number {
    return backoffDelay(attempt, this.options.minDelayMs, this.options.maxDelayMs, this.options.random);
  }

  async open(handover = false): Promise<void> {
    // Set before the token is awaited: the current connection may close meanwhile (a token that
    // ended), and onClose must know a new one is on its way.
    this.opening = true;
    let token: string;
    try {
      token = await settleWithin(this.options.token, this.options.requestTimeoutMs);
    } catch (error) {
      this.opening = false;
      const message = error instanceof TokenTimeout ? error.message : 'the token callback failed';
      this.handler.report(new PresenceClientError('token_failed', message, { cause: error }));
      // A failed handover is retried only if there is no current connection left to fall back on.
      if (!handover || !this.currentLink) this.scheduleRetry();
      return;
    }
    this.opening = false;
    if (this.stopped) return;
    this.handler.onSubject(subjectOf(token));
    const separator = this.options.url.includes('?') ? '&' : '?';
    // The subscription starts with the connection: no subscribe message, no scope to rewrite.
    const scope = this.handler.scope();
    const teams = scope === null ? '' : `&teams=${encodeURIComponent(scope.join(','))}`;
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(`${this.options.url}${separator}token=${encodeURIComponent(token)}${teams}`) as WebSocketLike;
    } catch (error) {
      this.handler.report(new PresenceClientError('connection_failed', 'could not open the WebSocket', { cause: error }));
      if (!handover || !this.currentLink) this.scheduleRetry();
      return;
    }
    const link: Link = { socket, scope, opened: false, synced: false, assembling: new Map(), requestedAt: 0, snapshotAttempts: 0 };
    this.incomingLink = link;
    socket.onopen = () => {
      link.opened = true;
      this.handler.onOpen(link);
    };
    socket.onmessage = (event) => {
      const message = parseServerMessage(event.data);
      if (message) this.handler.onMessage(link, message);
    };
    socket.onerror = (event) => {
      // The close event follows. Browsers say nothing more; Node's `ws` names the handshake's
      // status, which tells a refusal at the per-user connection cap (429) apart.
      const text = (event as { message?: unknown } | null)?.message;
      if (!link.opened && typeof text === 'string' && /\b429\b/.test(text)) link.refusedForCap = true;
    };
    socket.onclose = (event) => this.onClose(link, event.code, event.reason);
  }

  /** A link with its snapshot becomes the current one; a previous one is closed (the handover). */
  promote(link: Link): void {
    link.synced = true;
    const previous = this.currentLink;
    this.currentLink = link;
    if (this.incomingLink === link) this.incomingLink = undefined;
    if (previous && previous !== link) this.drop(previous, 1000);
    this.attempt = 0;
    // A retry scheduled while this connection was opening is not needed any more.
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    link.handover = setTimeout(() => this.handover(link), this.options.maxConnectionAgeMs);
  }

  /** The link's token ended (the server closes it): a new one opens now, overlapping it like a handover. */
  renew(link: Link): void {
    if (!this.stopped && this.currentLink === link && !this.incomingLink && !this.opening) void this.open(true);
  }

  /** Reconnects now if waiting out a backoff. */
  wake(): void {
    if (this.stopped || this.incomingLink || this.opening || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.open();
  }

  /** Closes every connection; nothing reconnects until `begin()`. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    for (const link of [this.currentLink, this.incomingLink]) if (link) this.drop(link, 1000);
    this.currentLink = undefined;
    this.incomingLink = undefined;
  }

  /** Opens the next connection while this one still works; promote() closes the old one. */
  private handover(link: Link): void {
    if (this.stopped || this.currentLink !== link || this.incomingLink) return;
    if (this.opening) {
      // A renewal is fetching its token: look again after a backoff, in case it fails.
      link.handover = setTimeout(() => this.handover(link), this.backoff(this.attempt));
      return;
    }
    void this.open(true);
  }

  private onClose(link: Link, code: number, reason: string): void {
    clearTimeout(link.handover);
    clearTimeout(link.retry);
    if (this.incomingLink === link) this.incomingLink = undefined;
    if (this.stopped) return;
    if (this.currentLink === link) {
      this.currentLink = undefined;
      // A new connection is already opening (a handover, or a token that ended): it takes over
      // once its snapshot is in, with no 'reconnecting' in between; if it fails, its own close
      // reports it and schedules the retry.
      if (this.incomingLink || this.opening) return;
    } else if (this.currentLink) {
      // A handover attempt failed while the current connection still works: try again later.
      link.handover = undefined;
      const current = this.currentLink;
      clearTimeout(current.handover);
      current.handover = setTimeout(() => this.handover(current), this.backoff(this.attempt++));
      return;
    }
    if (link.refusedForCap) {
      this.handler.report(new PresenceClientError('too_many_connections', 'this user already has as many open connections as allowed; retrying later'));
      // Other tabs must close first: wait the longest backoff rather than knock again soon.
      this.attempt = Math.max(this.attempt, 30);
    } else {
      const detail = link.opened ? `the connection closed (${code}${reason ? `: ${reason}` : ''})` : 'the connection could not be opened (refused or unreachable)';
      this.handler.report(new PresenceClientError('connection_failed', detail));
    }
    this.handler.onReconnecting();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = this.backoff(this.attempt++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, delay);
  }

  private drop(link: Link, code: number): void {
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
}
