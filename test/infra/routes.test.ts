/**
 * The routes the CDK stack creates, the routes the handlers serve and the list in
 * functions/app/routes.ts are the same: adding a route or an action to one place only fails here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Ports } from '#app/ports.ts';
import type { TokenVerifier } from '#app/principal.ts';
import { HTTP_ROUTES, MESSAGE_ACTIONS } from '#app/routes.ts';
import { makeHttpHandler } from '#handlers/http.ts';
import { makeWebSocketApi } from '#handlers/websocket.ts';
import { httpApiEvent } from '#local/api-gateway-events.ts';
import { silentLogger } from '#test/support/clock.ts';
import { removeOutdirs, synthPresence } from './cdk-app.ts';

afterAll(removeOutdirs);

const { stateless: template } = synthPresence();
const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => route.Properties.RouteKey as string);
const httpKeys = routeKeys.filter((key) => key.includes(' /'));
const webSocketKeys = routeKeys.filter((key) => !key.includes(' /'));

/** Ports whose store fails on first use: a request that reaches it was served (500), not refused by the router (404, 405). */
const ports = new Proxy({} as Ports, {
  get(_target, key) {
    if (key === 'logger') return silentLogger;
    if (key === 'clock') return { now: () => 0 };
    if (key === 'store') return new Proxy({}, { get: () => () => Promise.reject(new Error('the store was reached')) });
    throw new Error(`the routing test has no port ${String(key)}`);
  },
});
const admin: TokenVerifier = {
  verify: async () => ({ userId: 'admin', workspaceId: 'w', name: 'Admin', teams: [], role: 'admin' }),
};
const http = makeHttpHandler({ ports, verifier: admin });

async function statusOf(method: string, template: string): Promise<number> {
  const path = template.replace('{ws}', 'w').replace('{userId}', 'u');
  const event: APIGatewayProxyEventV2 = httpApiEvent({ method, path, headers: { authorization: 'Bearer t' }, body: '{"status":"away"}', now: 0 });
  return (await http(event)).statusCode ?? 0;
}

describe('HTTP routes', () => {
  it('the stack creates exactly the routes of functions/app/routes.ts', () => {
    expect(httpKeys.sort()).toEqual(Object.values(HTTP_ROUTES).map(({ method, path }) => `${method} ${path}`).sort());
  });

  it.each(httpKeys)('the handler serves %s', async (key) => {
    const [method = '', path = ''] = key.split(' ');
    expect([404, 405]).not.toContain(await statusOf(method, path));
  });

  it('the handler refuses every other method on those paths (405) and any other path (404)', async () => {
    const paths = [...new Set(httpKeys.map((key) => key.split(' ')[1] ?? ''))];
    for (const path of paths) {
      for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'PATCH']) {
        if (httpKeys.includes(`${method} ${path}`)) continue;
        expect(await statusOf(method, path), `${method} ${path}`).toBe(405);
      }
    }
    expect(await statusOf('GET', '/workspaces/{ws}/teams')).toBe(404);
  });
});

describe('WebSocket routes', () => {
  it('the stack creates $connect, $disconnect, $default and a route per message action', () => {
    expect(webSocketKeys.sort()).toEqual(['$connect', '$disconnect', '$default', ...MESSAGE_ACTIONS].sort());
  });

  it('the handlers serve every message route the stack creates, and no other', () => {
    const served = Object.keys(makeWebSocketApi({ ports, verifier: admin }).routes);
    expect(served.sort()).toEqual(webSocketKeys.filter((key) => key !== '$connect' && key !== '$disconnect').sort());
  });
});
