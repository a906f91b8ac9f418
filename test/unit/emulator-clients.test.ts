/**
 * The stack's ways to the emulator's `@connections` (local/emulator-clients.ts): nothing before
 * the emulator listens, the real SDK's posts and deletes to its management URL once it does, and
 * no fan-out dispatcher without workers.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { emulatorFanoutWorkers, emulatorGateway } from '#local/emulator-clients.ts';
import { silentLogger } from '#test/support/clock.ts';

const NOT_LISTENING = 'the WebSocket emulator is not listening yet';
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A stand-in `@connections` endpoint answering 200, recording each request. */
async function managementEndpoint() {
  const requests: Array<{ method: string | undefined; url: string | undefined; body: string }> = [];
  const server = createServer(async (request: IncomingMessage, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    requests.push({ method: request.method, url: request.url, body });
    response.writeHead(200).end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('emulatorGateway', () => {
  it('refuses to post or close before the emulator listens, and has no client to destroy', async () => {
    const { gateway, destroy } = emulatorGateway({}, () => undefined);

    expect(() => gateway.post('c1', { type: 'x' })).toThrow(NOT_LISTENING);
    expect(() => gateway.delete('c1')).toThrow(NOT_LISTENING);
    await expect(destroy()).resolves.toBeUndefined();
  });

  it('posts and closes through the emulator\'s management URL once it listens', async () => {
    const endpoint = await managementEndpoint();
    let url: string | undefined;
    const { gateway, destroy } = emulatorGateway({}, () => url);
    url = endpoint.url;

    await gateway.post('c1', { type: 'presence' });
    await gateway.delete('c2');
    await destroy();

    expect(endpoint.requests).toEqual([
      { method: 'POST', url: '/@connections/c1', body: '{"type":"presence"}' },
      { method: 'DELETE', url: '/@connections/c2', body: '' },
    ]);
  });
});

describe('emulatorFanoutWorkers', () => {
  it('without workers has no dispatcher: the consumer posts every message itself', async () => {
    const workers = emulatorFanoutWorkers({}, 0, () => 'http://127.0.0.1:1', silentLogger);

    expect(workers.fanout).toBeUndefined();
    expect(workers.chunks()).toBe(0);
    await expect(workers.stop()).resolves.toBeUndefined();
  });

  it('with workers has a dispatcher, but boots no thread before the emulator listens', async () => {
    const workers = emulatorFanoutWorkers({}, 2, () => undefined, silentLogger);

    expect(workers.fanout).toBeDefined();
    expect(() => workers.start()).toThrow(NOT_LISTENING);
    expect(() => workers.fanout?.post({ workspaceId: 'acme', messages: [], now: 0 } as never)).toThrow(NOT_LISTENING);
    expect(workers.chunks()).toBe(0);
    await expect(workers.stop()).resolves.toBeUndefined();
  });
});
