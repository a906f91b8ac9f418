/**
 * Faults injected into real parts: DynamoDB errors through an SDK middleware on the store's
 * client (so the SDK's own retries run), a management endpoint that hangs, a sweeper that fails
 * part-way through a pass, and handlers whose clocks disagree by 2 seconds.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayConnectionGateway } from '#adapters/api-gateway.ts';
import type { Ports } from '#app/ports.ts';
import { type Harness, makeHarness, uniqueWorkspace } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

const SECOND = 1000;

/**
 * Fails the next `times` requests of `command` (the low-level name, e.g. PutItemCommand; below the
 * retry middleware, so each SDK attempt counts) with the error `make` builds.
 */
function inject(client: DynamoDBDocumentClient, command: string, times: number, make: () => Error) {
  const state = { failed: 0, remaining: times };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command && state.remaining > 0) {
        state.remaining--;
        state.failed++;
        throw make();
      }
      return next(args);
    },
    { step: 'deserialize', name: `fault-${command}-${Math.random()}` },
  );
  return state;
}

const throttled = () =>
  new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: { httpStatusCode: 400 } });
const serverError = () => new InternalServerError({ message: 'Internal server error', $metadata: { httpStatusCode: 500 } });

describe('DynamoDB throttling and 5xx', () => {
  it('retries through a few failures and applies the change exactly once', async () => {
    const harness = await makeHarness();
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    const throttle = inject(harness.client, 'PutItemCommand', 1, throttled);
    const failing = inject(harness.client, 'GetItemCommand', 1, serverError);

    await bob.setStatus('away');

    expect(throttle.failed + failing.failed).toBeGreaterThanOrEqual(1);
    expect(bob.errors()).toEqual([]);
    expect(watcher.presence().filter((m) => m.userId === 'bob').map((m) => m.reason)).toEqual(['connect', 'manual']);
    expect(harness.events.events.filter((e) => e.reason === 'manual')).toHaveLength(1);
  });

  it('past the retries: a clean error to the sender, nothing half-applied, and the next try works', async () => {
    const harness = await makeHarness();
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    const before = await harness.scanTable();
    const eventsBefore = harness.events.events.length;
    const outage = inject(harness.client, 'PutItemCommand', 100, serverError);

    await bob.setStatus('away');

    expect(outage.failed).toBeGreaterThanOrEqual(3); // the SDK retried before giving up
    expect(bob.errors()).toEqual([{ type: 'error', code: 'internal', message: 'internal error' }]);
    expect(watcher.presence().filter((m) => m.reason === 'manual')).toEqual([]);
    expect(harness.events.events).toHaveLength(eventsBefore);
    outage.remaining = 0;
    expect(await harness.scanTable()).toEqual(before);

    await bob.setStatus('away');
    expect(watcher.presence().filter((m) => m.reason === 'manual')).toHaveLength(1);
  });

  it('a $connect that cannot be stored is refused, so the client retries', async () => {
    const harness = await makeHarness();
    const service = makeService(harness);
    const outage = inject(harness.client, 'PutItemCommand', 100, throttled);
    await expect(TestConnection.open(service, { workspace: uniqueWorkspace(), sub: 'bob' })).rejects.toMatchObject({ status: 500 });
    outage.remaining = 0;
    expect(await harness.scanTable()).toEqual([]);
  });
});

describe('a sweeper that fails part-way', () => {
  it('leaves the rest to the next pass, and every transition is published once', async () => {
    const harness = await makeHarness();
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    for (const user of ['a', 'b', 'c', 'd']) await TestConnection.open(service, { workspace, sub: user });
    harness.clock.advance(60 * SECOND);
    await watcher.heartbeat(true);
    harness.clock.advance(31 * SECOND);
    // Two of the four timeouts fail to be written in this pass (beyond the SDK's retries).
    const failure = inject(harness.client, 'PutItemCommand', 6, serverError);

    await service.sweep();
    const first = harness.events.events.filter((e) => e.reason === 'timeout').length;
    expect(failure.failed).toBe(6);
    expect(first).toBeLessThan(4);

    await service.sweep();
    const timeouts = harness.events.events.filter((e) => e.reason === 'timeout').map((e) => e.userId).sort();
    expect(timeouts).toEqual(['a', 'b', 'c', 'd']);
    expect(watcher.presence().filter((m) => m.reason === 'timeout')).toHaveLength(4);
    await service.sweep();
    expect(harness.events.events.filter((e) => e.reason === 'timeout')).toHaveLength(4);
  });
});

describe('a post that hangs', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('is abandoned after the timeout and the other connections still get the change', async () => {
    const received: string[] = [];
    const hanging = new Set<string>();
    server = createServer((request, response) => {
      const id = decodeURIComponent((request.url ?? '').split('/').pop() ?? '');
      if (hanging.has(id)) return; // never answers
      request.resume();
      request.on('end', () => {
        received.push(id);
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const harness = await makeHarness();
    const gateway = new ApiGatewayConnectionGateway({
      client: new ApiGatewayManagementApiClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      }),
      requestTimeoutMs: 300,
    });
    const ports: Ports = { ...harness.ports, gateway };
    harness.deliverWith(ports);
    const service = makeService({ ...harness, ports } as Harness);
    const workspace = uniqueWorkspace();
    const slow = await TestConnection.open(service, { workspace, sub: 'slow' });
    const fast = await TestConnection.open(service, { workspace, sub: 'fast' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    hanging.add(slow.id);
    received.length = 0;

    await bob.setStatus('away');

    expect(received.sort()).toEqual([bob.id, fast.id].sort());
    expect(harness.events.events.filter((e) => e.reason === 'manual')).toHaveLength(1);
  });
});

describe('clocks 2 seconds apart', () => {
  it('heartbeats on a slow clock and sweeps on a fast one never flap an agent', async () => {
    const harness = await makeHarness();
    const skewed = (offset: number): Harness => ({
      ...harness,
      ports: { ...harness.ports, clock: { now: () => harness.clock.now() + offset } },
    });
    const slow = makeService(skewed(-2 * SECOND));
    const fast = makeService(skewed(2 * SECOND));
    const workspace = uniqueWorkspace();
    const watcher = await TestConnection.open(fast, { workspace, sub: 'watcher' });
    const alice = await TestConnection.open(slow, { workspace, sub: 'alice' });
    // Five minutes (over three leases): beats every 30 s through the slow handlers, sweeps every
    // 5 s on the fast one.
    for (let t = 5 * SECOND; t <= 5 * 60 * SECOND; t += 5 * SECOND) {
      harness.clock.advance(5 * SECOND);
      if (t % (30 * SECOND) === 0) {
        await alice.heartbeat(true);
        await watcher.heartbeat(true);
      }
      await fast.sweep();
    }
    expect(harness.events.events.filter((e) => e.userId === 'alice').map((e) => e.reason)).toEqual(['connect']);
  });
});
