/**
 * An API Gateway WebSocket API, faithful where clients and handlers can tell:
 * - the REQUEST authorizer and `$connect` run before the upgrade is accepted (401 when the
 *   authorizer throws `Unauthorized` or the token is missing, 403 on Deny, the `$connect`
 *   status otherwise);
 * - route selection on `$request.body.action`, `$default` for the rest, events shaped as API
 *   Gateway sends them (api-gateway-events.ts) with the authorizer context on every route;
 * - 32 KB frames and 128 KB messages (close 1009), idle timeout and maximum lifetime;
 * - `$disconnect` on client close, on management DELETE and on timeouts, unless dropped on
 *   purpose (`dropDisconnect`), as AWS does not guarantee it;
 * - the `@connections/{id}` management API (POST, GET, DELETE; 410 for unknown ids), with or
 *   without the stage prefix, answering as the AWS SDK expects, on a port of its own: Node accepts
 *   one connection per listening socket per event-loop turn, so on the WebSocket port the
 *   handlers' posts would queue behind a storm of handshakes (on AWS neither waits for the other).
 * All state belongs to one instance, so tests can run several side by side.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { WebSocket, WebSocketServer } from 'ws';
import type { WebSocketEvent, WebSocketResult } from '#handlers/websocket.ts';
import { isLoopbackHost, MISDIRECTED } from '#local/loopback.ts';
import { readBody } from '#local/read-body.ts';
import {
  type ConnectionInfo,
  authorizerEvent,
  connectEvent,
  disconnectEvent,
  messageEvent,
  newConnectionId,
  selectRoute,
} from '#local/api-gateway-events.ts';

const FRAME_LIMIT_BYTES = 32 * 1024;
const MESSAGE_LIMIT_BYTES = 128 * 1024;

type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEvent,
) => Promise<APIGatewayAuthorizerResult & { context?: Record<string, unknown> }>;
export type RouteHandler = (event: WebSocketEvent) => Promise<WebSocketResult & { body?: string }>;

export interface WebSocketApiHandlers {
  authorizer: AuthorizerHandler;
  connect: RouteHandler;
  disconnect: RouteHandler;
  /** Message routes by route key; `$default` takes what no other route matches. */
  routes: Record<string, RouteHandler>;
}

export interface EmulatorLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

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
  clock?: { now(): number };
  logger?: EmulatorLogger;
}

interface Client {
  info: ConnectionInfo;
  socket: WebSocket;
  lastActiveAt: number;
  idleTimer?: NodeJS.Timeout;
  lifetimeTimer: NodeJS.Timeout;
  /** Set once the connection is going away, so `$disconnect` runs once. */
  closing: boolean;
}

const silentLogger: EmulatorLogger = { info() {}, warn() {}, error() {} };

class HandshakeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
};

export class WebSocketEmulator {
  /** Toggle at run time: connections closed while true get no `$disconnect`. */
  dropDisconnect: boolean;
  /** Connections ended so far, however they ended (tests wait on it). */
  closedConnections = 0;
  /** Messages received from clients so far (tests wait on it). */
  messagesReceived = 0;
  private readonly clients = new Map<string, Client>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly wss: WebSocketServer;
  private readonly server: Server;
  private readonly managementServer: Server;
  private readonly handlers: WebSocketApiHandlers;
  private readonly clock: { now(): number };
  private readonly logger: EmulatorLogger;
  private readonly stage: string;
  private readonly apiId: string;
  private readonly idleTimeoutMs: number;
  private readonly maxLifetimeMs: number;
  private readonly frameLimit: number;
  private readonly messageRoutes: string[];
  private boundPort = 0;
  private boundManagementPort = 0;
  private readonly host: string;
  private readonly allowedOrigins: (() => string[]) | undefined;
  private stopped = false;

  private constructor(options: WebSocketEmulatorOptions) {
    this.handlers = options.handlers;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.logger = options.logger ?? silentLogger;
    this.stage = options.stage ?? 'local';
    this.apiId = options.apiId ?? 'local';
    this.host = options.host ?? '127.0.0.1';
    this.allowedOrigins = options.allowedOrigins;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
    this.maxLifetimeMs = options.maxLifetimeMs ?? 2 * 3_600_000;
    this.frameLimit = options.frameLimitBytes ?? FRAME_LIMIT_BYTES;
    this.dropDisconnect = options.dropDisconnect ?? false;
    this.messageRoutes = Object.keys(options.handlers.routes).filter((key) => key !== '$default');
    // ws enforces the message limit itself (close 1009); the frame limit is checked per frame below.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.messageLimitBytes ?? MESSAGE_LIMIT_BYTES });
    // A plain HTTP request to the WebSocket endpoint, as API Gateway answers it.
    this.server = createServer((request, response) => {
      if (!isLoopbackHost(request.headers.host)) return reply(response, MISDIRECTED.status, MISDIRECTED.body);
      reply(response, 426, { message: 'Upgrade Required' });
    });
    this.managementServer = createServer((request, response) => {
      this.track(this.management(request, response)).catch((error: unknown) => {
        this.logger.error('management request failed', { error });
        if (!response.headersSent) reply(response, 500, { message: 'Internal server error' });
      });
    });
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.track(this.upgrade(request, socket, head)).catch((error: unknown) => {
        this.logger.error('handshake failed', { error });
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

  /** Handler invocations and management requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Resolves once no handler or management request is in flight (tests use it as a barrier). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  connectionIds(): string[] {
    return [...this.clients.keys()];
  }

  /**
   * Closes every connection (each gets `$disconnect` unless dropped), waits for handlers in
   * flight, and stops listening.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const client of [...this.clients.values()]) this.closeClient(client, 1001, 'Going away');
    await Promise.all([this.server, this.managementServer].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.wss.close();
  }

  // ---------- handshake ----------

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (this.stopped) return rejectUpgrade(socket, 502);
    if (!isLoopbackHost(request.headers.host)) return rejectUpgrade(socket, MISDIRECTED.status);
    // Clients without an Origin (apps, SDKs on Node) are allowed, as on AWS; a browser page may
    // connect only from the team page's own origin.
    const origin = request.headers.origin;
    if (origin !== undefined && !(this.allowedOrigins?.() ?? []).includes(origin)) return rejectUpgrade(socket, 403);
    if (url.pathname !== '/' && url.pathname !== `/${this.stage}` && url.pathname !== `/${this.stage}/`) {
      return rejectUpgrade(socket, 404);
    }
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] ??= value;
    const now = this.clock.now();
    const info: ConnectionInfo = {
      apiId: this.apiId,
      stage: this.stage,
      domainName: request.headers.host ?? `${this.host}:${this.boundPort}`,
      connectionId: newConnectionId(),
      connectedAt: now,
      sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
      ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
    };
    try {
      info.authorizer = await this.authorize(info, query, now);
      const result = await this.handlers.connect(connectEvent(info, query, now));
      if (result.statusCode < 200 || result.statusCode > 299) throw new HandshakeError(result.statusCode, '$connect refused');
    } catch (error) {
      if (error instanceof HandshakeError) return rejectUpgrade(socket, error.status);
      this.logger.error('$connect failed', { connectionId: info.connectionId, error });
      return rejectUpgrade(socket, 500);
    }
    if (socket.destroyed || this.stopped) {
      // The client left (or we are stopping) while $connect ran: API Gateway reports it gone.
      this.runDisconnect(info, 1006, 'Going away');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(info, ws));
  }

  private async authorize(info: ConnectionInfo, query: Record<string, string>, now: number) {
    // The identity source is route.request.querystring.token: without it API Gateway answers 401
    // and never calls the authorizer.
    if (!query.token) throw new HandshakeError(401, 'no token');
    let result: Awaited<ReturnType<AuthorizerHandler>>;
    try {
      result = await this.handlers.authorizer(authorizerEvent(info, query, now));
    } catch (error) {
      if (error instanceof Error && error.message === 'Unauthorized') throw new HandshakeError(401, 'unauthorized');
      throw error;
    }
    const statements = result.policyDocument.Statement as Array<{ Effect?: string }>;
    const allowed = statements.length > 0 && statements.every((statement) => statement.Effect === 'Allow');
    if (!allowed) throw new HandshakeError(403, 'denied');
    return { ...(result.context ?? {}), principalId: result.principalId };
  }

  private accept(info: ConnectionInfo, socket: WebSocket): void {
    const client: Client = {
      info,
      socket,
      lastActiveAt: info.connectedAt,
      closing: false,
      lifetimeTimer: setTimeout(() => this.closeClient(client, 1001, 'Going away'), this.maxLifetimeMs),
    };
    this.resetIdle(client);
    this.limitFrames(socket);
    this.clients.set(info.connectionId, client);
    socket.on('message', (data, isBinary) => this.onMessage(client, data as Buffer | Buffer[], isBinary));
    socket.on('close', (code, reason) => {
      // A close frame from the client, our own close, or a dropped socket (1006).
      const text = reason.toString() || (code === 1006 ? 'Connection reset by peer' : 'Client-side close frame');
      this.forget(client, code, text);
    });
    socket.on('error', (error) => this.logger.warn('connection error', { connectionId: info.connectionId, error: error.message }));
  }

  /**
   * ws limits whole messages; API Gateway also limits each frame to 32 KB. The receiver is
   * wrapped (ws 8.x, pinned) to fail a data frame over the limit the way ws fails an oversized
   * message: close 1009.
   */
  private limitFrames(socket: WebSocket): void {
    const receiver = (socket as unknown as { _receiver?: FrameReceiver })._receiver;
    if (!receiver || typeof receiver.haveLength !== 'function') {
      throw new Error('ws receiver internals changed: the frame limit cannot be enforced');
    }
    const haveLength = receiver.haveLength;
    const limit = this.frameLimit;
    receiver.haveLength = function (this: FrameReceiver, callback: (error?: Error) => void) {
      if (this._opcode < 0x08 && this._payloadLength > limit) {
        callback(this.createError(RangeError, 'Frame size exceeded', false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'));
        return;
      }
      haveLength.call(this, callback);
    };
  }

  // ---------- messages ----------

  private onMessage(client: Client, data: Buffer | Buffer[], isBinary: boolean): void {
    if (client.closing) return;
    this.messagesReceived++;
    client.lastActiveAt = this.clock.now();
    this.resetIdle(client);
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data;
    // Route selection needs a text body; API Gateway sends binary frames to $default, base64-encoded.
    const body = isBinary ? bytes.toString('base64') : bytes.toString('utf8');
    const route = isBinary ? '$default' : selectRoute(body, this.messageRoutes);
    const handler = this.handlers.routes[route] ?? this.handlers.routes.$default;
    const connectionId = client.info.connectionId;
    if (!handler) {
      this.send(client, JSON.stringify({ message: 'Forbidden', connectionId, requestId: 'local' }));
      return;
    }
    const event = messageEvent(client.info, route, body, this.clock.now());
    if (isBinary) event.isBase64Encoded = true;
    this.track(
      handler(event).then(
        (result) => {
          // A route with a route response sends the integration's body back.
          if (typeof result?.body === 'string') this.send(client, result.body);
        },
        (error: unknown) => {
          this.logger.error('route handler failed', { route, connectionId, error });
          // What API Gateway sends when the integration fails.
          this.send(
            client,
            JSON.stringify({ message: 'Internal server error', connectionId, requestId: requestIdOf(event) }),
          );
        },
      ),
    );
  }

  private send(client: Client, text: string): void {
    if (client.socket.readyState === WebSocket.OPEN) client.socket.send(text);
  }

  private resetIdle(client: Client): void {
    if (client.idleTimer) clearTimeout(client.idleTimer);
    client.idleTimer = setTimeout(() => this.closeClient(client, 1001, 'Going away'), this.idleTimeoutMs);
  }

  // ---------- closing ----------

  /** Server-side close (DELETE, timeouts, stop). */
  private closeClient(client: Client, code: number, reason: string): void {
    if (client.closing) return;
    this.forget(client, code, reason);
    client.socket.close(code, reason);
    // A peer that never answers the close frame is cut off, as API Gateway would.
    setTimeout(() => client.socket.terminate(), 1000).unref();
  }

  private forget(client: Client, code: number, reason: string): void {
    if (client.closing) return;
    client.closing = true;
    this.closedConnections++;
    clearTimeout(client.lifetimeTimer);
    if (client.idleTimer) clearTimeout(client.idleTimer);
    this.clients.delete(client.info.connectionId);
    this.runDisconnect(client.info, code, reason);
  }

  private runDisconnect(info: ConnectionInfo, code: number, reason: string): void {
    if (this.dropDisconnect) {
      this.logger.info('$disconnect dropped on purpose', { connectionId: info.connectionId });
      return;
    }
    this.track(
      this.handlers.disconnect(disconnectEvent(info, this.clock.now(), reason, code)).catch((error: unknown) => {
        this.logger.error('$disconnect failed', { connectionId: info.connectionId, error });
      }),
    );
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const done = () => this.pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  // ---------- @connections ----------

  private async management(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!isLoopbackHost(request.headers.host)) return reply(response, MISDIRECTED.status, MISDIRECTED.body);
    const url = new URL(request.url ?? '/', 'http://localhost');
    // Served with and without the stage prefix: SDK clients are configured either way.
    const match = /^(?:\/([^/]+))?\/@connections\/([^/]+)\/?$/.exec(url.pathname);
    if (!match?.[2] || (match[1] !== undefined && match[1] !== this.stage)) {
      return reply(response, 404, { message: 'Not Found' });
    }
    let connectionId: string;
    try {
      connectionId = decodeURIComponent(match[2]);
    } catch {
      return reply(response, 400, { message: 'Invalid connection id' }, 'BadRequestException');
    }
    const body = await readBody(request, MESSAGE_LIMIT_BYTES);
    const client = this.clients.get(connectionId);
    const method = request.method ?? 'GET';
    if (!['POST', 'GET', 'DELETE'].includes(method)) return reply(response, 405, { message: 'Method Not Allowed' });
    if (!client || client.closing || client.socket.readyState !== WebSocket.OPEN) {
      return reply(response, 410, { message: 'Gone' }, 'GoneException');
    }
    if (method === 'POST') {
      if (body === null) {
        return reply(response, 413, { message: 'Message too long' }, 'PayloadTooLargeException');
      }
      const sent = await new Promise<boolean>((resolve) => client.socket.send(body.toString('utf8'), { binary: false }, (error) => resolve(!error)));
      // The connection closed while the message was on its way: as API Gateway, it is gone.
      if (!sent) return reply(response, 410, { message: 'Gone' }, 'GoneException');
      response.writeHead(200).end();
      return;
    }
    if (method === 'GET') {
      const identity: Record<string, string> = { sourceIp: client.info.sourceIp };
      if (client.info.userAgent) identity.userAgent = client.info.userAgent;
      return reply(response, 200, {
        connectedAt: new Date(client.info.connectedAt).toISOString(),
        lastActiveAt: new Date(client.lastActiveAt).toISOString(),
        identity,
      });
    }
    this.closeClient(client, 1000, 'Connection deleted');
    response.writeHead(204).end();
  }
}

function requestIdOf(event: WebSocketEvent): string {
  return (event.requestContext as { requestId?: string }).requestId ?? '';
}

interface FrameReceiver {
  _opcode: number;
  _payloadLength: number;
  haveLength(callback: (error?: Error) => void): void;
  createError(type: typeof RangeError, message: string, prefix: boolean, code: number, errorCode: string): Error;
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

function rejectUpgrade(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  const text = STATUS_TEXT[status] ?? 'Error';
  const body = JSON.stringify({ message: text });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function reply(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // The AWS SDK names the error after this header: 410 becomes GoneException.
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  response.end(text);
}

