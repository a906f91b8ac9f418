/**
 * The emulator as a whole (local/websocket/server.ts): its two listeners, frame and message
 * limits on real connections, instances side by side, and idle() as a barrier.
 */
import { describe, expect, it } from 'vitest';
import { GetConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { RouteHandler } from '#local/websocket/handlers.ts';
import { allowAll, closed, emulatorFixture, until } from '#test/e2e/websocket-fixture.ts';

const { start, open, sdk } = emulatorFixture();

describe('listeners', () => {
  it('listens on a port of its own; the WebSocket port answers plain HTTP with 426', async () => {
    const { emulator } = await start();
    expect(new URL(emulator.managementUrl).port).not.toBe(new URL(emulator.url).port);
    const onWebSocketPort = await fetch(`${emulator.url.replace('ws:', 'http:')}@connections/x`);
    expect(onWebSocketPort.status).toBe(426);
    const onManagementPort = await fetch(`${emulator.managementUrl}/@connections/x`);
    expect(onManagementPort.status).toBe(410);
  });

  it('two emulators run side by side without sharing connections', async () => {
    const first = await start();
    const second = await start();
    await open(`${first.emulator.url}?token=allow:alice`);
    expect(first.emulator.connectionIds()).toHaveLength(1);
    expect(second.emulator.connectionIds()).toHaveLength(0);
    const id = first.emulator.connectionIds()[0];
    await expect(sdk(second.emulator.managementUrl).send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toMatchObject({
      name: 'GoneException',
    });
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

describe('idle()', () => {
  it('resolves only once the handler calls in flight are done, including those that started while it waited', async () => {
    const releases: Array<() => void> = [];
    const held: RouteHandler = () => new Promise((resolve) => releases.push(() => resolve({ statusCode: 200 })));
    const { emulator } = await start({ handlers: allowAll({ $default: held }) });
    const socket = await open(`${emulator.url}?token=t`);
    try {
      await emulator.idle(); // the handshake is done
      expect(emulator.inFlight).toBe(0);

      socket.send('first');
      await until(() => (releases.length === 1 ? true : undefined), 'the first handler call');
      let idle = false;
      const waiting = emulator.idle().then(() => {
        idle = true;
      });
      socket.send('second');
      await until(() => (releases.length === 2 ? true : undefined), 'the second handler call');
      releases[0]?.();
      await until(() => (emulator.inFlight === 1 ? true : undefined), 'the first call to finish');
      await new Promise((resolve) => setImmediate(resolve));
      expect(idle).toBe(false);

      releases[1]?.();
      await waiting;
      expect(idle).toBe(true);
      expect(emulator.inFlight).toBe(0);
    } finally {
      // A held handler would hold the emulator's stop.
      for (const release of releases) release();
    }
  });
});
