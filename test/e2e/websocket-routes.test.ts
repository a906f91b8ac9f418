/** The emulator's message routing (local/websocket/routes.ts): route selection, events, route responses. */
import { describe, expect, it } from 'vitest';
import { allowAll, emulatorFixture, matchesApiGateway, nextMessage, until } from '#test/e2e/websocket-fixture.ts';

const { start, open } = emulatorFixture();

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
  });

  it('sends a route response body back to the sender', async () => {
    const { emulator } = await start();
    const socket = await open(`${emulator.url}?token=allow:alice`);
    const reply = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'setStatus', echo: true }));
    expect(await reply).toBe('echo:setStatus');
  });

  it('answers a failed integration with Internal server error, as API Gateway does', async () => {
    const { emulator } = await start({
      handlers: allowAll({
        $default: async () => {
          throw new Error('boom');
        },
      }),
    });
    const socket = await open(`${emulator.url}?token=t`);
    const reply = nextMessage(socket);
    socket.send('{}');
    expect(JSON.parse(await reply)).toMatchObject({ message: 'Internal server error' });
  });
});
