/** The client's options and their defaults. */
import { PresenceClientError } from './errors.ts';
import type { WebSocketConstructor } from './transport.ts';

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
  /** How long `setStatus` and `connect` wait for the server, and the token callback may take. */
  requestTimeoutMs?: number;
  /** For tests: the jitter source. */
  random?: () => number;
}

/** Every option set: the given ones, or their defaults. */
export type ResolvedOptions = Required<Omit<PresenceClientOptions, 'WebSocket' | 'reconnect'>> & {
  WebSocket: WebSocketConstructor;
  minDelayMs: number;
  maxDelayMs: number;
};

const DEFAULT_HEARTBEAT_MS = 30_000;
const DEFAULT_MAX_AGE_MS = 2 * 3_600_000 - 10 * 60_000;

/** Fills in the defaults; throws `not_connected` when there is no WebSocket to use. */
export function resolveOptions(options: PresenceClientOptions): ResolvedOptions {
  const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!WebSocketImpl) throw new PresenceClientError('not_connected', 'no WebSocket implementation: pass one (e.g. `ws`) as options.WebSocket');
  return {
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
