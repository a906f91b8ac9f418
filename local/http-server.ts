/**
 * The local HTTP side: the HTTP API of PROTOCOL.md through the same handler Lambda runs (as an
 * API Gateway HTTP API payload 2.0 event), the team page at `/`, and the development-only token
 * endpoint the page signs in with.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { httpApiEvent } from '#local/api-gateway-events.ts';
import { mintToken, type SigningSettings, tokenRequestSchema } from '#local/tokens.ts';
import { isLoopbackHost, MISDIRECTED } from '#local/loopback.ts';
import { readBody } from '#local/read-body.ts';
import type { Logger } from '#app/ports.ts';

/** API Gateway HTTP APIs take up to 10 MB; the handlers want far less, so stop reading early. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export interface PageAssets {
  html: string;
  script: string;
}

export interface LocalHttpServerOptions {
  port: number;
  host: string;
  handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  page: PageAssets;
  /** What the page needs to know: where the WebSocket is and how often to beat. */
  pageConfig: { wsUrl: string; heartbeatIntervalMs: number };
  /** Signs tokens for the page's demo sign-in. Only the local stack passes it. */
  devTokens?: SigningSettings | undefined;
  clock: { now(): number };
  logger: Logger;
}

export class LocalHttpServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: LocalHttpServerOptions): Promise<LocalHttpServer> {
    const server = createServer((request, response) => {
      serve(options, request, response).catch((error: unknown) => {
        options.logger.error('http request failed', { error: String(error) });
        if (!response.headersSent) sendJson(response, 500, { error: { code: 'internal', message: 'internal error' } });
        else response.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    return new LocalHttpServer(server, `http://${options.host}:${port}`);
  }

  async stop(): Promise<void> {
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function serve(options: LocalHttpServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  // Before anything is read: a request for another host name (DNS rebinding) gets nothing.
  if (!isLoopbackHost(request.headers.host)) return sendJson(response, MISDIRECTED.status, MISDIRECTED.body);
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  const body = await readBody(request, MAX_REQUEST_BYTES);
  if (body === null) {
    return sendJson(response, 413, { error: { code: 'payload_too_large', message: `the body exceeds ${MAX_REQUEST_BYTES} bytes` } });
  }
  if (method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
    return send(response, 200, 'text/html; charset=utf-8', options.page.html);
  }
  if (method === 'GET' && url.pathname === '/app.js') {
    return send(response, 200, 'text/javascript; charset=utf-8', options.page.script);
  }
  if (url.pathname === '/dev/config' && method === 'GET') {
    return sendJson(response, 200, { ...options.pageConfig, devTokens: options.devTokens !== undefined });
  }
  if (url.pathname === '/dev/token') {
    if (!options.devTokens) return sendJson(response, 404, { error: { code: 'not_found', message: 'no such route' } });
    if (method !== 'POST') return sendJson(response, 405, { error: { code: 'method_not_allowed', message: 'use POST' } });
    let parsedBody: unknown;
    try {
      parsedBody = JSON.parse(body.toString('utf8'));
    } catch {
      return sendJson(response, 400, { error: { code: 'invalid_json', message: 'the body is not valid JSON' } });
    }
    const parsed = tokenRequestSchema.safeParse(parsedBody);
    if (!parsed.success) {
      const message = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
      return sendJson(response, 400, { error: { code: 'invalid_request', message } });
    }
    return sendJson(response, 200, { token: await mintToken(parsed.data, options.devTokens) });
  }

  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(',') : value;
  }
  const text = body.toString('utf8');
  // Like API Gateway: text bodies as they are, anything that is not UTF-8 base64-encoded.
  const binary = body.length > 0 && Buffer.from(text, 'utf8').compare(body) !== 0;
  const rawQueryString = url.search.startsWith('?') ? url.search.slice(1) : '';
  const result = await options.handler(
    httpApiEvent({
      method,
      path: url.pathname,
      rawQueryString,
      headers,
      ...(body.length > 0 ? { body: binary ? body.toString('base64') : text, isBase64Encoded: binary } : {}),
      sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
      now: options.clock.now(),
    }),
  );
  const replyHeaders: Record<string, string> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) replyHeaders[key] = String(value);
  const replyBody = result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  response.writeHead(result.statusCode ?? 200, replyHeaders);
  response.end(replyBody);
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}

