/** The emulator's `@connections` management API (local/websocket/connections-api.ts), through the AWS SDK. */
import { describe, expect, it } from 'vitest';
import { DeleteConnectionCommand, GetConnectionCommand, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { Agent, request as httpRequest, type Server } from 'node:http';
import { closed, disconnects, emulatorFixture, nextMessage, until } from '#test/e2e/websocket-fixture.ts';

const { start, open, sdk } = emulatorFixture();

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
    });
  }

  it('refuses a post over 128 KB and keeps the connection', async () => {
    const { emulator } = await start();
    const client = sdk(emulator.managementUrl);
    await open(`${emulator.url}?token=allow:alice`);
    const id = emulator.connectionIds()[0] ?? '';
    await expect(client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x'.repeat(129 * 1024) }))).rejects.toMatchObject({
      name: 'PayloadTooLargeException',
    });
    expect(emulator.connectionIds()).toEqual([id]);
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
  });
});

describe('stopping', () => {
  it('stop() ends a keep-alive connection that was answering a request, without waiting out its keep-alive timeout', async () => {
    const { emulator } = await start();
    const server = (emulator as unknown as { managementServer: Server }).managementServer;
    // With no keep-alive timeout at all, a stop() that waited for this connection would never end.
    server.keepAliveTimeout = 0;
    const arrived = new Promise((resolve) => server.once('request', resolve));
    const agent = new Agent({ keepAlive: true });
    try {
      const { port } = new URL(emulator.managementUrl);
      const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/@connections/unknown%3D', agent, headers: { 'transfer-encoding': 'chunked' } });
      const answered = new Promise<number>((resolve, reject) => {
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        });
        request.on('error', reject);
      });
      request.write('{"half":');
      // The request is still arriving when the emulator stops: its connection is busy, not idle.
      await arrived;
      const stopped = emulator.stop();
      request.end('"done"}');
      expect(await answered).toBe(410);
      await stopped;
    } finally {
      agent.destroy();
    }
  });
});
