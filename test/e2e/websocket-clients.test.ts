/**
 * How the emulator's connections end (local/websocket/clients.ts): client close, idle timeout,
 * maximum lifetime, and `$disconnect`, dropped on purpose when asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closed, disconnects, emulatorFixture, matchesApiGateway, until } from '#test/e2e/websocket-fixture.ts';

const { start, open } = emulatorFixture();

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
    const idleTimeoutMs = 300;
    const { emulator, recorded } = await start({ idleTimeoutMs });
    const idle = await open(`${emulator.url}?token=allow:alice`);
    const busy = await open(`${emulator.url}?token=allow:bob`);
    const busySince = Date.now();
    const busyId = recorded.events.find((event) => event.requestContext.authorizer?.userId === 'bob')?.requestContext.connectionId;
    // Each message from the client restarts its idle timeout.
    const timer = setInterval(() => busy.readyState === WebSocket.OPEN && busy.send('{"action":"heartbeat"}'), 50);
    try {
      const code = closed(idle);
      expect(await code).toBe(1001);
      await until(() => (disconnects(recorded).length === 1 ? true : undefined), '$disconnect after idle');
      expect(disconnects(recorded)[0]?.requestContext.authorizer).toMatchObject({ userId: 'alice' });
      await sleep(busySince + 2 * idleTimeoutMs - Date.now());
    } finally {
      clearInterval(timer);
    }
    expect(busy.readyState).toBe(WebSocket.OPEN);
    expect(emulator.connectionIds()).toEqual([busyId]);
    expect(disconnects(recorded)).toHaveLength(1);
  });

  it('closes connections at the end of their lifetime even when busy', async () => {
    const { emulator, recorded } = await start({ maxLifetimeMs: 300 });
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const timer = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send('{"action":"heartbeat"}'), 50);
    try {
      expect(await closed(socket)).toBe(1001);
    } finally {
      clearInterval(timer);
    }
    await until(() => (disconnects(recorded).length === 1 ? true : undefined), '$disconnect after lifetime');
  });

  it('drops $disconnect on purpose when asked, as AWS may', async () => {
    const { emulator, recorded } = await start({ dropDisconnect: true });
    try {
      const socket = await open(`${emulator.url}?token=allow:alice`);
      socket.terminate();
      await until(() => (emulator.connectionIds().length === 0 ? true : undefined), 'the connection to go');
      emulator.dropDisconnect = false;
      const second = await open(`${emulator.url}?token=allow:bob`);
      second.close();
      await until(() => (disconnects(recorded).length === 1 ? true : undefined), 'the second $disconnect');
      expect(disconnects(recorded)[0]?.requestContext.authorizer).toMatchObject({ userId: 'bob' });
    } finally {
      emulator.dropDisconnect = true;
    }
  });
});
