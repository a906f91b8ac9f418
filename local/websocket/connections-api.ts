/**
 * The `@connections/{id}` management API the handlers call, answering as the AWS SDK expects:
 * POST (413 past the message limit), GET, DELETE (the client gets close 1000 and `$disconnect`
 * runs); 410 Gone for an id that is unknown or no longer open; the error type in
 * `x-amzn-errortype`. Served with and without the stage prefix, as SDK clients are configured
 * either way. It listens on a port of its own: Node accepts one connection per listening socket
 * per event-loop turn, so on the WebSocket port the handlers' posts would queue behind a storm of
 * handshakes (on AWS neither waits for the other).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isLoopbackHost, MISDIRECTED } from '#local/loopback.ts';
import { readBody } from '#local/read-body.ts';
import { reply } from '#local/websocket/answers.ts';
import type { ClientRegistry } from '#local/websocket/clients.ts';
import type { EmulatorLogger } from '#local/websocket/handlers.ts';
import type { InFlight } from '#local/websocket/in-flight.ts';

export interface ConnectionsApiOptions {
  stage: string;
  clients: ClientRegistry;
  /** The largest POST body, API Gateway's message limit. */
  postLimitBytes: number;
  inFlight: InFlight;
  logger: EmulatorLogger;
}

/** The management API's HTTP server, not yet listening. */
export function createConnectionsServer(options: ConnectionsApiOptions): Server {
  return createServer((request, response) => {
    options.inFlight.track(handle(request, response, options)).catch((error: unknown) => {
      options.logger.error('management request failed', { error });
      if (!response.headersSent) reply(response, 500, { message: 'Internal server error' });
    });
  });
}

async function handle(request: IncomingMessage, response: ServerResponse, options: ConnectionsApiOptions): Promise<void> {
  if (!isLoopbackHost(request.headers.host)) return reply(response, MISDIRECTED.status, MISDIRECTED.body);
  const url = new URL(request.url ?? '/', 'http://localhost');
  const match = /^(?:\/([^/]+))?\/@connections\/([^/]+)\/?$/.exec(url.pathname);
  if (!match?.[2] || (match[1] !== undefined && match[1] !== options.stage)) {
    return reply(response, 404, { message: 'Not Found' });
  }
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(match[2]);
  } catch {
    return reply(response, 400, { message: 'Invalid connection id' }, 'BadRequestException');
  }
  const body = await readBody(request, options.postLimitBytes);
  const method = request.method ?? 'GET';
  if (!['POST', 'GET', 'DELETE'].includes(method)) return reply(response, 405, { message: 'Method Not Allowed' });
  const client = options.clients.open(connectionId);
  if (!client) return reply(response, 410, { message: 'Gone' }, 'GoneException');
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
  options.clients.close(client, 1000, 'Connection deleted');
  response.writeHead(204).end();
}
