/**
 * The WebSocket emulator tests' fixture: emulators with recording handlers, clients for them, and
 * an afterEach that closes every socket, SDK client and emulator a test opened, pass or fail.
 */
import { afterEach } from 'vitest';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { APIGatewayProxyWebsocketEventSchema } from '@aws-lambda-powertools/parser/schemas';
import WebSocket from 'ws';
import type { WebSocketEvent } from '#handlers/websocket.ts';
import type { RouteHandler } from '#local/websocket/handlers.ts';
import { WebSocketEmulator, type WebSocketEmulatorOptions } from '#local/websocket/server.ts';

// Powertools' WebSocket schema is the REQUEST authorizer event (methodArn, type, headers); what
// every route event must match is its requestContext.
const requestContextSchema = APIGatewayProxyWebsocketEventSchema.shape.requestContext;
export const matchesApiGateway = (event: WebSocketEvent | undefined) => requestContextSchema.safeParse(event?.requestContext).success;

export interface Recorded {
  authorizer: unknown[];
  events: WebSocketEvent[];
}

/** Registers the afterEach that cleans up; call once at the top of a test file. */
export function emulatorFixture() {
  const emulators: WebSocketEmulator[] = [];
  const sockets: WebSocket[] = [];
  const sdkClients: ApiGatewayManagementApiClient[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) {
      socket.on('error', () => {});
      socket.terminate();
    }
    for (const client of sdkClients.splice(0)) client.destroy();
    await Promise.all(emulators.splice(0).map((emulator) => emulator.stop()));
  });

  /** Tokens: `allow:<user>` is allowed, `deny` gets a Deny policy, anything else is Unauthorized. */
  async function start(options: Partial<WebSocketEmulatorOptions> = {}, connectStatus = 200) {
    const recorded: Recorded = { authorizer: [], events: [] };
    const route: RouteHandler = async (event) => {
      recorded.events.push(event);
      const body = event.body ?? '';
      return body.includes('"echo"') ? { statusCode: 200, body: `echo:${event.requestContext.routeKey}` } : { statusCode: 200 };
    };
    const handlers: WebSocketEmulatorOptions['handlers'] = {
      authorizer: async (event) => {
        recorded.authorizer.push(event);
        const token = event.queryStringParameters?.token ?? '';
        if (!token.startsWith('allow:') && token !== 'deny') throw new Error('Unauthorized');
        return {
          principalId: token,
          policyDocument: {
            Version: '2012-10-17',
            Statement: [{ Action: 'execute-api:Invoke', Effect: token === 'deny' ? 'Deny' : 'Allow', Resource: event.methodArn }],
          },
          context: { userId: token.slice(6), workspaceId: 'acme' },
        };
      },
      connect: async (event) => {
        recorded.events.push(event);
        return { statusCode: connectStatus };
      },
      disconnect: route,
      routes: { heartbeat: route, setStatus: route, $default: route },
    };
    const emulator = await WebSocketEmulator.start({ stage: 'local', ...options, handlers: options.handlers ?? handlers });
    emulators.push(emulator);
    return { emulator, recorded };
  }

  function open(url: string): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      sockets.push(socket);
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_request, response) => {
        reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
        response.resume();
      });
      socket.once('error', reject);
    });
  }

  /** The HTTP status a refused handshake got. */
  function refusal(url: string): Promise<number> {
    return open(url).then(
      () => {
        throw new Error('the handshake was accepted');
      },
      (error: { status?: number }) => error.status ?? -1,
    );
  }

  function sdk(endpoint: string) {
    const client = new ApiGatewayManagementApiClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    sdkClients.push(client);
    return client;
  }

  return { start, open, refusal, sdk };
}

/** Handlers that let anyone in and answer every route with `routes`. */
export function allowAll(routes: Record<string, RouteHandler>): WebSocketEmulatorOptions['handlers'] {
  return {
    authorizer: async () => ({ principalId: 'x', policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] } }),
    connect: async () => ({ statusCode: 200 }),
    disconnect: async () => ({ statusCode: 200 }),
    routes,
  };
}

export function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once('close', (code) => resolve(code)));
}

export function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) => socket.once('message', (data) => resolve(String(data))));
}

/** Waits until `check` returns a value, polling each event-loop turn (no fixed sleep). */
export async function until<T>(check: () => T | undefined, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export const disconnects = (recorded: Recorded) => recorded.events.filter((event) => event.requestContext.eventType === 'DISCONNECT');
