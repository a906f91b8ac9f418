/**
 * The API Gateway WebSocket emulator on its own, with recording handlers: handshake, routing,
 * event shapes, limits, timeouts, `$disconnect`, and the `@connections` API through the AWS SDK.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { APIGatewayProxyWebsocketEventSchema } from '@aws-lambda-powertools/parser/schemas';
import WebSocket from 'ws';
import type { WebSocketEvent } from '#handlers/websocket.ts';
import type { RouteHandler } from '#local/websocket/handlers.ts';
import { WebSocketEmulator, type WebSocketEmulatorOptions } from '#local/websocket/server.ts';

// Powertools' WebSocket schema is the REQUEST authorizer event (methodArn, type, headers); what
// every route event must match is its requestContext.
const requestContextSchema = APIGatewayProxyWebsocketEventSchema.shape.requestContext;
const matchesApiGateway = (event: WebSocketEvent | undefined) => requestContextSchema.safeParse(event?.requestContext).success;

interface Recorded {
  authorizer: unknown[];
  events: WebSocketEvent[];
}

const emulators: WebSocketEmulator[] = [];
afterEach(async () => {
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
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => {
      reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
      response.resume();
    });
    socket.once('error', reject);
  });
}

function refusal(url: string): Promise<number> {
  return open(url).then(
    () => {
      throw new Error('the handshake was accepted');
    },
    (error: { status?: number }) => error.status ?? -1,
  );
}

function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once('close', (code) => resolve(code)));
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve) => socket.once('message', (data) => resolve(String(data))));
}

/** Waits until the recorded events satisfy `check`, polling the event list (no fixed sleep). */
async function until<T>(check: () => T | undefined, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const disconnects = (recorded: Recorded) => recorded.events.filter((event) => event.requestContext.eventType === 'DISCONNECT');

function sdk(endpoint: string) {
  return new ApiGatewayManagementApiClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

describe('handshake', () => {
  it('runs the authorizer and $connect before accepting, and refuses as API Gateway does', async () => {
    const { emulator, recorded } = await start();
    expect(await refusal(emulator.url)).toBe(401); // no token: the authorizer is not even called
    expect(recorded.authorizer).toHaveLength(0);
    expect(await refusal(`${emulator.url}?token=bad`)).toBe(401);
    expect(await refusal(`${emulator.url}?token=deny`)).toBe(403);
    expect(await refusal(`${emulator.url.replace(/\/$/, '')}/elsewhere?token=allow:alice`)).toBe(404);
    expect(recorded.events).toHaveLength(0); // $connect never ran for refused handshakes

    const socket = await open(`${emulator.url}?token=allow:alice&extra=1`);
    const authorizerEvent = recorded.authorizer.at(-1);
    expect(APIGatewayProxyWebsocketEventSchema.safeParse(authorizerEvent).success).toBe(true);
    const connect = recorded.events[0];
    expect(connect?.requestContext.routeKey).toBe('$connect');
    expect(matchesApiGateway(connect)).toBe(true);
    expect(connect?.requestContext.authorizer).toMatchObject({ userId: 'alice', principalId: 'allow:alice' });
    expect(emulator.connectionIds()).toEqual([connect?.requestContext.connectionId]);
    socket.close();
  });

  it('accepts the stage path and refuses when $connect answers an error status', async () => {
    const { emulator } = await start({}, 200);
    (await open(`${emulator.url}local?token=allow:a`)).close();
    const refusing = await start({}, 403);
    expect(await refusal(`${refusing.emulator.url}?token=allow:a`)).toBe(403);
    expect(refusing.emulator.connectionIds()).toEqual([]);
  });
});

describe('messages', () => {
  it('selects the route on body.action, falls back to $default, and carries the authorizer context', async () => {
    const { emulator, recorded } = await start();
    const socket = await open(`${emulator.url}?token=allow:alice`);
    socket.send(JSON.stringify({ action: 'heartbeat', active: true }));
    socket.send(JSON.stringify({ action: 'nope' }));
    socket.send('not json');
    socket.send(Buffer.from([1, 2, 3]), { binary: true });
    const messages = await until(() => {
      const found = recorded.events.filter((event) => event.requestContext.eventType === 'MESSAGE');
      return found.length === 4 ? found : undefined;
    }, 'four messages');
    expect(messages.map((event) => event.requestContext.routeKey).sort()).toEqual(['$default', '$default', '$default', 'heartbeat']);
    for (const event of messages) {
      expect(matchesApiGateway(event)).toBe(true);
      expect(event.requestContext.authorizer).toMatchObject({ userId: 'alice', workspaceId: 'acme' });
      expect((event.requestContext as { messageId?: string }).messageId).toBeTruthy();
    }
    const binary = messages.find((event) => event.isBase64Encoded);
    expect(Buffer.from(binary?.body ?? '', 'base64')).toEqual(Buffer.from([1, 2, 3]));
    socket.close();
  });

  it('sends a route response body back to the sender', async () => {
    const { emulator } = await start();
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const reply = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'setStatus', echo: true }));
    expect(await reply).toBe('echo:setStatus');
    socket.close();
  });

  it('answers a failed integration with Internal server error, as API Gateway does', async () => {
    const { emulator } = await start({
      handlers: {
        authorizer: async () => ({ principalId: 'x', policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] } }),
        connect: async () => ({ statusCode: 200 }),
        disconnect: async () => ({ statusCode: 200 }),
        routes: {
          $default: async () => {
            throw new Error('boom');
          },
        },
      },
    });
    const socket = await open(`${emulator.url}?token=t`);
    const reply = nextMessage(socket);
    socket.send('{}');
    expect(JSON.parse(await reply)).toMatchObject({ message: 'Internal server error' });
    socket.close();
  });
});

describe('limits', () => {
  it('closes with 1009 on a frame over 32 KB', async () => {
    const { emulator, recorded } = await start();
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const code = closed(socket);
    socket.send(JSON.stringify({ action: 'heartbeat', pad: 'x'.repeat(33 * 1024) }));
    expect(await code).toBe(1009);
    expect(recorded.events.filter((event) => event.requestContext.eventType === 'MESSAGE')).toHaveLength(0);
  });

  it('takes a 100 KB message in 32 KB frames, and closes with 1009 past 128 KB', async () => {
    const { emulator, recorded } = await start();
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const fragmented = (total: number) => {
      const text = JSON.stringify({ action: 'heartbeat', pad: 'x'.repeat(total) });
      for (let start = 0; start < text.length; start += 30 * 1024) {
        const end = Math.min(text.length, start + 30 * 1024);
        socket.send(text.slice(start, end), { fin: end === text.length });
      }
    };
    fragmented(100 * 1024);
    const event = await until(() => recorded.events.find((e) => e.requestContext.routeKey === 'heartbeat'), 'the big message');
    expect(event.body?.length).toBeGreaterThan(100 * 1024);
    const code = closed(socket);
    fragmented(130 * 1024);
    expect(await code).toBe(1009);
  });
});

describe('closing', () => {
  it('runs $disconnect once when the client closes, with its close code', async () => {
    const { emulator, recorded } = await start();
    const socket = await open(`${emulator.url}?token=allow:alice`);
    socket.close(1000);
    const [event] = await until(() => (disconnects(recorded).length ? disconnects(recorded) : undefined), '$disconnect');
    expect(matchesApiGateway(event)).toBe(true);
    expect(event?.requestContext.authorizer).toMatchObject({ userId: 'alice' });
    expect((event?.requestContext as { disconnectStatusCode?: number } | undefined)?.disconnectStatusCode).toBe(1000);
    expect(emulator.connectionIds()).toEqual([]);
  });

  it('closes idle connections (1001) and runs $disconnect; messages keep a connection open', async () => {
    const { emulator, recorded } = await start({ idleTimeoutMs: 300 });
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const code = closed(socket);
    expect(await code).toBe(1001);
    await until(() => (disconnects(recorded).length === 1 ? true : undefined), '$disconnect after idle');
  });

  it('closes connections at the end of their lifetime even when busy', async () => {
    const { emulator, recorded } = await start({ maxLifetimeMs: 300 });
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const timer = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send('{"action":"heartbeat"}'), 50);
    expect(await closed(socket)).toBe(1001);
    clearInterval(timer);
    await until(() => (disconnects(recorded).length === 1 ? true : undefined), '$disconnect after lifetime');
  });

  it('drops $disconnect on purpose when asked, as AWS may', async () => {
    const { emulator, recorded } = await start({ dropDisconnect: true });
    const socket = await open(`${emulator.url}?token=allow:alice`);
    socket.terminate();
    await until(() => (emulator.connectionIds().length === 0 ? true : undefined), 'the connection to go');
    emulator.dropDisconnect = false;
    const second = await open(`${emulator.url}?token=allow:bob`);
    second.close();
    await until(() => (disconnects(recorded).length === 1 ? true : undefined), 'the second $disconnect');
    expect(disconnects(recorded)[0]?.requestContext.authorizer).toMatchObject({ userId: 'bob' });
  });

  it('two emulators run side by side without sharing connections', async () => {
    const first = await start();
    const second = await start();
    const socket = await open(`${first.emulator.url}?token=allow:alice`);
    expect(first.emulator.connectionIds()).toHaveLength(1);
    expect(second.emulator.connectionIds()).toHaveLength(0);
    const id = first.emulator.connectionIds()[0];
    await expect(sdk(second.emulator.managementUrl).send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toMatchObject({
      name: 'GoneException',
    });
    socket.close();
  });
});

describe('@connections through the AWS SDK', () => {
  for (const prefix of ['', '/local']) {
    it(`POST, GET and DELETE${prefix ? ' with the stage prefix' : ''}`, async () => {
      const { emulator, recorded } = await start();
      const client = sdk(`${emulator.managementUrl}${prefix}`);
      const socket = await open(`${emulator.url}?token=allow:alice`);
      const id = emulator.connectionIds()[0] ?? '';
      expect(id).toMatch(/^[A-Za-z0-9_-]{11}=$/);

      const received = nextMessage(socket);
      await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: JSON.stringify({ hello: 'world' }) }));
      expect(JSON.parse(await received)).toEqual({ hello: 'world' });

      const info = await client.send(new GetConnectionCommand({ ConnectionId: id }));
      expect(info.ConnectedAt).toBeInstanceOf(Date);
      expect(info.LastActiveAt).toBeInstanceOf(Date);
      expect(info.Identity?.SourceIp).toBe('127.0.0.1');

      const code = closed(socket);
      await client.send(new DeleteConnectionCommand({ ConnectionId: id }));
      expect(await code).toBe(1000);
      await until(() => (disconnects(recorded).length === 1 ? true : undefined), '$disconnect after DELETE');

      for (const command of [
        new PostToConnectionCommand({ ConnectionId: id, Data: 'x' }),
        new GetConnectionCommand({ ConnectionId: id }),
        new DeleteConnectionCommand({ ConnectionId: id }),
        new GetConnectionCommand({ ConnectionId: 'unknown=' }),
      ]) {
        await expect(client.send(command as never)).rejects.toMatchObject({ name: 'GoneException', $metadata: { httpStatusCode: 410 } });
      }
      client.destroy();
    });
  }

  it('listens on a port of its own; the WebSocket port answers plain HTTP with 426', async () => {
    const { emulator } = await start();
    expect(new URL(emulator.managementUrl).port).not.toBe(new URL(emulator.url).port);
    const onWebSocketPort = await fetch(`${emulator.url.replace('ws:', 'http:')}@connections/x`);
    expect(onWebSocketPort.status).toBe(426);
    const onManagementPort = await fetch(`${emulator.managementUrl}/@connections/x`);
    expect(onManagementPort.status).toBe(410);
  });

  it('refuses a post over 128 KB and keeps the connection', async () => {
    const { emulator } = await start();
    const client = sdk(emulator.managementUrl);
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const id = emulator.connectionIds()[0] ?? '';
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x'.repeat(129 * 1024) }))).rejects.toMatchObject({
      name: 'PayloadTooLargeException',
    });
    expect(emulator.connectionIds()).toEqual([id]);
    socket.close();
    client.destroy();
  });

  it('lastActiveAt follows the client messages', async () => {
    let now = 1_000_000;
    const { emulator, recorded } = await start({ clock: { now: () => now } });
    const client = sdk(emulator.managementUrl);
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const id = emulator.connectionIds()[0] ?? '';
    now += 5000;
    socket.send('{"action":"heartbeat"}');
    await until(() => recorded.events.find((event) => event.requestContext.routeKey === 'heartbeat'), 'the heartbeat');
    const info = await client.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(info.ConnectedAt?.getTime()).toBe(1_000_000);
    expect(info.LastActiveAt?.getTime()).toBe(1_005_000);
    socket.close();
    client.destroy();
  });
});
