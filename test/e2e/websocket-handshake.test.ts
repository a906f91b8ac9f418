/** The emulator's upgrade handshake (local/websocket/handshake.ts): authorizer and `$connect` before the upgrade. */
import { describe, expect, it } from 'vitest';
import { APIGatewayProxyWebsocketEventSchema } from '@aws-lambda-powertools/parser/schemas';
import { emulatorFixture, matchesApiGateway } from '#test/e2e/websocket-fixture.ts';

const { start, open, refusal } = emulatorFixture();

describe('handshake', () => {
  it('runs the authorizer and $connect before accepting, and refuses as API Gateway does', async () => {
    const { emulator, recorded } = await start();
    expect(await refusal(emulator.url)).toBe(401); // no token: the authorizer is not even called
    expect(recorded.authorizer).toHaveLength(0);
    expect(await refusal(`${emulator.url}?token=bad`)).toBe(401);
    expect(await refusal(`${emulator.url}?token=deny`)).toBe(403);
    expect(await refusal(`${emulator.url.replace(/\/$/, '')}/elsewhere?token=allow:alice`)).toBe(404);
    expect(recorded.events).toHaveLength(0); // $connect never ran for refused handshakes

    await open(`${emulator.url}?token=allow:alice&extra=1`);
    const authorizerEvent = recorded.authorizer.at(-1);
    expect(APIGatewayProxyWebsocketEventSchema.safeParse(authorizerEvent).success).toBe(true);
    const connect = recorded.events[0];
    expect(connect?.requestContext.routeKey).toBe('$connect');
    expect(matchesApiGateway(connect)).toBe(true);
    expect(connect?.requestContext.authorizer).toMatchObject({ userId: 'alice', principalId: 'allow:alice' });
    expect(emulator.connectionIds()).toEqual([connect?.requestContext.connectionId]);
  });

  it('accepts the stage path and refuses when $connect answers an error status', async () => {
    const { emulator } = await start({}, 200);
    await open(`${emulator.url}local?token=allow:a`);
    const refusing = await start({}, 403);
    expect(await refusal(`${refusing.emulator.url}?token=allow:a`)).toBe(403);
    expect(refusing.emulator.connectionIds()).toEqual([]);
  });
});
