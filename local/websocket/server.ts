/**
 * An API Gateway WebSocket API, faithful where clients and handlers can tell. This module holds
 * the listeners and wires the parts, each faithful in its own way (see each module's header):
 * handshake.ts (authorizer and `$connect` before the upgrade), routes.ts (route selection and
 * events), clients.ts (idle timeout, maximum lifetime, `$disconnect`), connections-api.ts (the
 * `@connections` API, on a port of its own). Here: 32 KB frames (frame-limit.ts) and 128 KB
 * messages (ws's `maxPayload`), both close 1009; a plain HTTP request to the WebSocket port gets
 * 426. All state belongs to one instance, so tests can run several side by side.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { ConnectionInfo } from '#local/api-gateway-events.ts';
import { isLoopbackHost, MISDIRECTED } from '#local/loopback.ts';
import { rejectUpgrade, reply } from '#local/websocket/answers.ts';
import { ClientRegistry } from '#local/websocket/clients.ts';
import { createConnectionsServer } from '#local/websocket/connections-api.ts';
import { limitFrameSize } from '#local/websocket/frame-limit.ts';
import type { Clock, EmulatorLogger, WebSocketApiHandlers } from '#local/websocket/handlers.ts';
import { handshake, type HandshakeOptions } from '#local/websocket/handshake.ts';
import { InFlight } from '#local/websocket/in-flight.ts';
import { messageRouter } from '#local/websocket/routes.ts';

const FRAME_LIMIT_BYTES = 32 * 1024;
const MESSAGE_LIMIT_BYTES = 128 * 1024;

export interface WebSocketEmulatorOptions {
  handlers: WebSocketApiHandlers;
  /** The WebSocket port; 0 picks a free port. */
  port?: number;
  /** The `@connections` port; 0 (the default) picks a free port. */
  managementPort?: number;
  host?: string;
  /** Browser origins allowed to open a WebSocket (the team page's); asked at each handshake. */
  allowedOrigins?: () => string[];
  stage?: string;
  apiId?: string;
  /** API Gateway closes a connection that sent nothing for this long (10 minutes). */
  idleTimeoutMs?: number;
  /** API Gateway closes every connection after this long (2 hours). */
  maxLifetimeMs?: number;
  frameLimitBytes?: number;
  messageLimitBytes?: number;
  /** When true, closed connections never get `$disconnect` (AWS does not guarantee it). */
  dropDisconnect?: boolean;
  /** Timestamps in events; the handlers' clock, so tests that drive time see one timeline. */
  clock?: Clock;
  logger?: EmulatorLogger;
}

const silentLogger: EmulatorLogger = { info() {}, warn() {}, error() {} };

export class WebSocketEmulator {
  /** Toggle at run time: connections closed while true get no `$disconnect`. */
  dropDisconnect: boolean;
  /** Messages received from clients so far (tests wait on it). */
  messagesReceived = 0;
  private readonly inFlightWork = new InFlight();
  private readonly clients: ClientRegistry;
  private readonly route: ReturnType<typeof messageRouter>;
  private readonly handshakeOptions: HandshakeOptions;
  private readonly wss: WebSocketServer;
  private readonly server: Server;
  private readonly managementServer: Server;
  private readonly frameLimit: number;
  private readonly host: string;
  private boundPort = 0;
  private boundManagementPort = 0;
  private stopped = false;

  private constructor(options: WebSocketEmulatorOptions) {
    const { handlers } = options;
    const clock = options.clock ?? { now: () => Date.now() };
    const logger = options.logger ?? silentLogger;
    const stage = options.stage ?? 'local';
    const inFlight = this.inFlightWork;
    this.host = options.host ?? '127.0.0.1';
    this.frameLimit = options.frameLimitBytes ?? FRAME_LIMIT_BYTES;
    this.dropDisconnect = options.dropDisconnect ?? false;
    this.clients = new ClientRegistry({
      idleTimeoutMs: options.idleTimeoutMs ?? 10 * 60_000,
      maxLifetimeMs: options.maxLifetimeMs ?? 2 * 3_600_000,
      disconnect: handlers.disconnect,
      dropDisconnect: () => this.dropDisconnect,
      clock,
      logger,
      inFlight,
    });
    this.route = messageRouter({ routes: handlers.routes, clients: this.clients, clock, logger, inFlight });
    this.handshakeOptions = {
      handlers,
      stage,
      apiId: options.apiId ?? 'local',
      allowedOrigins: options.allowedOrigins,
      domainName: () => `${this.host}:${this.boundPort}`,
      stopping: () => this.stopped,
      clock,
      logger,
    };
    // ws enforces the message limit itself (close 1009); the frame limit is patched in per socket.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.messageLimitBytes ?? MESSAGE_LIMIT_BYTES });
    // A plain HTTP request to the WebSocket endpoint, as API Gateway answers it.
    this.server = createServer((request, response) => {
      if (!isLoopbackHost(request.headers.host)) return reply(response, MISDIRECTED.status, MISDIRECTED.body);
      reply(response, 426, { message: 'Upgrade Required' });
    });
    this.managementServer = createConnectionsServer({ stage, clients: this.clients, postLimitBytes: MESSAGE_LIMIT_BYTES, inFlight, logger });
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      inFlight.track(this.upgrade(request, socket, head)).catch((error: unknown) => {
        logger.error('handshake failed', { error });
        rejectUpgrade(socket, 500);
      });
    });
  }

  static async start(options: WebSocketEmulatorOptions): Promise<WebSocketEmulator> {
    const emulator = new WebSocketEmulator(options);
    emulator.boundPort = await listen(emulator.server, options.port ?? 0, emulator.host);
    try {
      emulator.boundManagementPort = await listen(emulator.managementServer, options.managementPort ?? 0, emulator.host);
    } catch (error) {
      await new Promise((resolve) => emulator.server.close(resolve));
      throw error;
    }
    return emulator;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Where clients connect (add `?token=`). */
  get url(): string {
    return `ws://${this.host}:${this.boundPort}/`;
  }

  /** The callback URL the handlers post to, as `stage.callbackUrl` is in AWS. */
  get managementUrl(): string {
    return `http://${this.host}:${this.boundManagementPort}`;
  }

  /** Handshakes, handler calls and management requests in flight. */
  get inFlight(): number {
    return this.inFlightWork.size;
  }

  /** Connections ended so far, however they ended (tests wait on it). */
  get closedConnections(): number {
    return this.clients.ended;
  }

  /**
   * Resolves once no handshake, route handler, `$disconnect` or `@connections` request is in
   * flight, including any that starts while it waits; nothing is queued behind them (tests and
   * the bench use it as a barrier).
   */
  idle(): Promise<void> {
    return this.inFlightWork.idle();
  }

  connectionIds(): string[] {
    return this.clients.ids();
  }

  /**
   * Closes every connection (each gets `$disconnect` unless dropped), waits for handlers in
   * flight, and stops listening.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clients.closeAll(1001, 'Going away');
    const servers = [this.server, this.managementServer];
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    // close() ends only the keep-alive connections idle at that instant; one answering a request
    // then would hold the listener open for its keep-alive timeout (5 s), so idle ones are ended
    // as they appear.
    const closeIdle = setInterval(() => {
      for (const server of servers) server.closeIdleConnections();
    }, 20);
    try {
      await closed;
    } finally {
      clearInterval(closeIdle);
    }
    await this.inFlightWork.idle();
    this.wss.close();
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const info = await handshake(request, socket, this.handshakeOptions);
    if (!info) return;
    if (socket.destroyed || this.stopped) {
      // The client left (or we are stopping) while $connect ran: API Gateway reports it gone.
      this.clients.disconnect(info, 1006, 'Going away');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(info, ws));
  }

  private accept(info: ConnectionInfo, socket: WebSocket): void {
    limitFrameSize(socket, this.frameLimit);
    const client = this.clients.add(info, socket);
    socket.on('message', (data, isBinary) => {
      if (client.closing) return;
      this.messagesReceived++;
      this.clients.touch(client);
      this.route(client, data as Buffer | Buffer[], isBinary);
    });
  }
}

/**
 * Listens on a loopback port; the bound port. The backlog is the most Linux allows by default
 * (somaxconn): 1,000 clients connecting in seconds would overflow Node's 511, and a dropped SYN
 * is retried only after 1 s, then 3 s.
 */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, 4096, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
