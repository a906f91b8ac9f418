/**
 * The open connections, and how each ends as on API Gateway: closed by the client, by a
 * `@connections` DELETE, after the idle timeout (nothing received from the client; 10 minutes on
 * AWS), at the end of its maximum lifetime (2 hours on AWS, however busy), or when the emulator
 * stops. Each end runs `$disconnect` once, unless dropped on purpose: AWS does not guarantee it.
 */
import { WebSocket } from 'ws';
import { type ConnectionInfo, disconnectEvent } from '#local/api-gateway-events.ts';
import type { Clock, EmulatorLogger, RouteHandler } from '#local/websocket/handlers.ts';
import type { InFlight } from '#local/websocket/in-flight.ts';

/** An accepted connection; its fields are the registry's to change. */
export interface Client {
  readonly info: ConnectionInfo;
  readonly socket: WebSocket;
  /** When the client last sent a message (`@connections` GET reports it). */
  lastActiveAt: number;
  idleTimer?: NodeJS.Timeout;
  lifetimeTimer: NodeJS.Timeout;
  /** Set once the connection is going away, so `$disconnect` runs once. */
  closing: boolean;
}

export interface ClientRegistryOptions {
  /** A connection that sent nothing for this long is closed (1001). */
  idleTimeoutMs: number;
  /** Every connection is closed after this long (1001). */
  maxLifetimeMs: number;
  disconnect: RouteHandler;
  /** Asked at each end: true drops its `$disconnect`. */
  dropDisconnect: () => boolean;
  clock: Clock;
  logger: EmulatorLogger;
  inFlight: InFlight;
}

export class ClientRegistry {
  /** Connections ended so far, however they ended. */
  ended = 0;
  private readonly clients = new Map<string, Client>();

  constructor(private readonly options: ClientRegistryOptions) {}

  /** Registers an accepted connection and starts its timers; a close from either side forgets it. */
  add(info: ConnectionInfo, socket: WebSocket): Client {
    const client: Client = {
      info,
      socket,
      lastActiveAt: info.connectedAt,
      closing: false,
      lifetimeTimer: setTimeout(() => this.close(client, 1001, 'Going away'), this.options.maxLifetimeMs),
    };
    this.resetIdle(client);
    this.clients.set(info.connectionId, client);
    socket.on('close', (code, reason) => {
      // A close frame from the client, our own close, or a dropped socket (1006).
      const text = reason.toString() || (code === 1006 ? 'Connection reset by peer' : 'Client-side close frame');
      this.forget(client, code, text);
    });
    socket.on('error', (error) => this.options.logger.warn('connection error', { connectionId: info.connectionId, error: error.message }));
    return client;
  }

  ids(): string[] {
    return [...this.clients.keys()];
  }

  /** The connection if it is still open; `@connections` answers 410 Gone for any other id. */
  open(connectionId: string): Client | undefined {
    const client = this.clients.get(connectionId);
    if (!client || client.closing || client.socket.readyState !== WebSocket.OPEN) return undefined;
    return client;
  }

  /** The client sent a message: it is active, which restarts the idle timeout. */
  touch(client: Client): void {
    client.lastActiveAt = this.options.clock.now();
    this.resetIdle(client);
  }

  send(client: Client, text: string): void {
    if (client.socket.readyState === WebSocket.OPEN) client.socket.send(text);
  }

  /** Server-side close (DELETE, timeouts, stop). */
  close(client: Client, code: number, reason: string): void {
    if (client.closing) return;
    this.forget(client, code, reason);
    client.socket.close(code, reason);
    // A peer that never answers the close frame is cut off, as API Gateway would.
    setTimeout(() => client.socket.terminate(), 1000).unref();
  }

  closeAll(code: number, reason: string): void {
    for (const client of [...this.clients.values()]) this.close(client, code, reason);
  }

  /**
   * Runs `$disconnect` for a connection that ended, unless dropped on purpose. Called directly
   * only for a connection that never got here: its client left while `$connect` ran.
   */
  disconnect(info: ConnectionInfo, code: number, reason: string): void {
    const { logger } = this.options;
    if (this.options.dropDisconnect()) {
      logger.info('$disconnect dropped on purpose', { connectionId: info.connectionId });
      return;
    }
    this.options.inFlight.track(
      this.options.disconnect(disconnectEvent(info, this.options.clock.now(), reason, code)).catch((error: unknown) => {
        logger.error('$disconnect failed', { connectionId: info.connectionId, error });
      }),
    );
  }

  private resetIdle(client: Client): void {
    if (client.idleTimer) clearTimeout(client.idleTimer);
    client.idleTimer = setTimeout(() => this.close(client, 1001, 'Going away'), this.options.idleTimeoutMs);
  }

  private forget(client: Client, code: number, reason: string): void {
    if (client.closing) return;
    client.closing = true;
    this.ended++;
    clearTimeout(client.lifetimeTimer);
    if (client.idleTimer) clearTimeout(client.idleTimer);
    this.clients.delete(client.info.connectionId);
    this.disconnect(client.info, code, reason);
  }
}
