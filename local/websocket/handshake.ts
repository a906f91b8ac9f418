/**
 * The upgrade handshake as API Gateway runs it: the REQUEST authorizer and `$connect` run before
 * the upgrade is accepted; 401 when the token is missing (the authorizer is not called) or the
 * authorizer throws `Unauthorized`, 403 on Deny, the `$connect` status otherwise (500 if it
 * throws). Before them, the local stack's own guards: 502 while stopping, 421 for a Host that is
 * not loopback, 403 for a browser Origin other than the team page's, 404 off `/` and `/{stage}`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ConnectionInfo, authorizerEvent, connectEvent, newConnectionId } from '#local/api-gateway-events.ts';
import { isLoopbackHost, MISDIRECTED } from '#local/loopback.ts';
import { rejectUpgrade } from '#local/websocket/answers.ts';
import type { AuthorizerHandler, Clock, EmulatorLogger, WebSocketApiHandlers } from '#local/websocket/handlers.ts';
import { isAuthorizerRefusal } from '#handlers/authorizer-refusal.ts';

export interface HandshakeOptions {
  handlers: Pick<WebSocketApiHandlers, 'authorizer' | 'connect'>;
  stage: string;
  apiId: string;
  /** Browser origins allowed to open a WebSocket; asked at each handshake. */
  allowedOrigins: (() => string[]) | undefined;
  /** The events' domain name when the request has no Host header. */
  domainName: () => string;
  stopping: () => boolean;
  clock: Clock;
  logger: EmulatorLogger;
}

class HandshakeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The new connection, once the authorizer and `$connect` accepted it (its `authorizer` is the
 * context every route gets); undefined when refused, the refusal already written to `socket`.
 */
export async function handshake(request: IncomingMessage, socket: Duplex, options: HandshakeOptions): Promise<ConnectionInfo | undefined> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (options.stopping()) return refuse(socket, 502);
  if (!isLoopbackHost(request.headers.host)) return refuse(socket, MISDIRECTED.status);
  // Clients without an Origin (apps, SDKs on Node) are allowed, as on AWS; a browser page may
  // connect only from the team page's own origin.
  const origin = request.headers.origin;
  if (origin !== undefined && !(options.allowedOrigins?.() ?? []).includes(origin)) return refuse(socket, 403);
  if (url.pathname !== '/' && url.pathname !== `/${options.stage}` && url.pathname !== `/${options.stage}/`) {
    return refuse(socket, 404);
  }
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] ??= value;
  const now = options.clock.now();
  const info: ConnectionInfo = {
    apiId: options.apiId,
    stage: options.stage,
    domainName: request.headers.host ?? options.domainName(),
    connectionId: newConnectionId(),
    connectedAt: now,
    sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
    ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
  };
  try {
    info.authorizer = await authorize(info, query, now, options.handlers);
    const result = await options.handlers.connect(connectEvent(info, query, now));
    if (result.statusCode < 200 || result.statusCode > 299) throw new HandshakeError(result.statusCode, '$connect refused');
  } catch (error) {
    if (error instanceof HandshakeError) return refuse(socket, error.status);
    options.logger.error('$connect failed', { connectionId: info.connectionId, error });
    return refuse(socket, 500);
  }
  return info;
}

function refuse(socket: Duplex, status: number): undefined {
  rejectUpgrade(socket, status);
  return undefined;
}

async function authorize(info: ConnectionInfo, query: Record<string, string>, now: number, handlers: HandshakeOptions['handlers']) {
  // The identity source is route.request.querystring.token: without it API Gateway answers 401
  // and never calls the authorizer.
  if (!query.token) throw new HandshakeError(401, 'no token');
  let result: Awaited<ReturnType<AuthorizerHandler>>;
  try {
    result = await handlers.authorizer(authorizerEvent(info, query, now));
  } catch (error) {
    if (isAuthorizerRefusal(error)) throw new HandshakeError(401, 'unauthorized');
    throw error;
  }
  const statements = result.policyDocument.Statement as Array<{ Effect?: string }>;
  const allowed = statements.length > 0 && statements.every((statement) => statement.Effect === 'Allow');
  if (!allowed) throw new HandshakeError(403, 'denied');
  return { ...(result.context ?? {}), principalId: result.principalId };
}
