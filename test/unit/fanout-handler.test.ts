/** The fan-out function's handler on a fake management API: what it posts, skips and reports. */
import { describe, expect, it } from 'vitest';
import { ConnectionGoneError } from '#app/errors.ts';
import { OPENING_WINDOW_MS } from '#app/fanout.ts';
import type { ConnectionGateway, ConnectionRecord } from '#app/ports.ts';
import { InvalidChunkError, makeFanoutHandler } from '#handlers/fanout.ts';
import { silentLogger } from '#test/support/clock.ts';

/** Years before this machine's clock: a connection's age must come from the chunk's `now` alone. */
const NOW = Date.UTC(2001, 0, 1, 9, 0, 0);

/**
 * Records every post. A connection in `goneAfter` answers 410 once it has received that many
 * messages (0: from the first); one in `failing` answers a network error to every post.
 */
class FakeGateway implements ConnectionGateway {
  readonly posts: { connectionId: string; message: unknown }[] = [];
  /** Every attempt, including refused ones. */
  readonly attempts: { connectionId: string; message: unknown }[] = [];
  readonly goneAfter = new Map<string, number>();
  readonly failing = new Set<string>();

  async post(connectionId: string, message: unknown): Promise<void> {
    this.attempts.push({ connectionId, message });
    const delivered = this.received(connectionId).length;
    const limit = this.goneAfter.get(connectionId);
    if (limit !== undefined && delivered >= limit) throw new ConnectionGoneError(connectionId);
    if (this.failing.has(connectionId)) throw new Error('socket hang up');
    this.posts.push({ connectionId, message });
  }
  async get(): Promise<undefined> {
    return undefined;
  }
  async delete(): Promise<void> {}
  received(connectionId: string): unknown[] {
    return this.posts.filter((post) => post.connectionId === connectionId).map((post) => post.message);
  }
  attemptsTo(connectionId: string): number {
    return this.attempts.filter((attempt) => attempt.connectionId === connectionId).length;
  }
}

function connection(connectionId: string, ageMs: number, userId = `user-${connectionId}`): ConnectionRecord {
  return { connectionId, userId, connectedAt: NOW - ageMs };
}

const OLD = OPENING_WINDOW_MS + 1;
const messages = [
  { type: 'presence', userId: 'u1', status: 'offline', reason: 'idle', at: 1 },
  { type: 'presence', userId: 'u1', status: 'online', reason: 'active', at: 2 },
  { type: 'presence', userId: 'u2', status: 'away', reason: 'manual', at: 3 },
];

function setup(fanoutConcurrency = 4) {
  const gateway = new FakeGateway();
  const handler = makeFanoutHandler({ gateway, logger: silentLogger, fanoutConcurrency, postTimeoutMs: 3_000 });
  return { gateway, handler };
}

describe('the fan-out handler', () => {
  const valid = { messages, connections: [connection('c1', OLD)], now: NOW };
  it.each([
    ['nothing', undefined],
    ['null', null],
    ['a string', 'chunk'],
    ['no messages', { ...valid, messages: [] }],
    ['messages missing', { connections: valid.connections, now: NOW }],
    ['now missing', { messages, connections: valid.connections }],
    ['now a string', { ...valid, now: String(NOW) }],
    ['a connection without id', { ...valid, connections: [{ userId: 'u', connectedAt: NOW }] }],
    ['an empty connection id', { ...valid, connections: [{ connectionId: '', userId: 'u', connectedAt: NOW }] }],
    ['connectedAt a string', { ...valid, connections: [{ connectionId: 'c1', userId: 'u', connectedAt: 'x' }] }],
    ['an unknown field', { ...valid, extra: true }],
    ['an unknown connection field', { ...valid, connections: [{ ...connection('c1', OLD), ttl: 1 }] }],
  ])('rejects a malformed event (%s) with InvalidChunkError and posts nothing', async (_label, event) => {
    const { gateway, handler } = setup();
    await expect(handler(event)).rejects.toBeInstanceOf(InvalidChunkError);
    expect(gateway.attempts).toEqual([]);
  });

  it('accepts the valid event the malformed ones derive from', async () => {
    const { gateway, handler } = setup();
    await expect(handler(valid)).resolves.toEqual({ posted: 3, failed: 0, opening: 0, gone: [] });
    expect(gateway.received('c1')).toEqual(messages);
  });

  it('posts every message, in order, to each connection', async () => {
    const { gateway, handler } = setup(2);
    const connections = ['a', 'b', 'c', 'd', 'e'].map((id) => connection(id, OLD));

    const report = await handler({ messages, connections, now: NOW });

    expect(report).toEqual({ posted: 15, failed: 0, opening: 0, gone: [] });
    for (const { connectionId } of connections) expect(gateway.received(connectionId)).toEqual(messages);
    expect(gateway.posts).toHaveLength(15);
  });

  it('skips later messages for a connection that answered gone, and reports it gone once', async () => {
    const { gateway, handler } = setup();
    gateway.goneAfter.set('gone-first', 0);
    gateway.goneAfter.set('gone-second', 1);
    const connections = [connection('ok', OLD), connection('gone-first', OLD), connection('gone-second', OLD)];

    const report = await handler({ messages, connections, now: NOW });

    expect(gateway.received('ok')).toEqual(messages);
    expect(gateway.received('gone-first')).toEqual([]);
    expect(gateway.attemptsTo('gone-first')).toBe(1); // not tried again for the later messages
    expect(gateway.received('gone-second')).toEqual([messages[0]]);
    expect(gateway.attemptsTo('gone-second')).toBe(2);
    expect(report.gone.sort()).toEqual(['gone-first', 'gone-second']);
    expect(report).toMatchObject({ posted: 4, failed: 0, opening: 0 });
  });

  it("reports a 410 from a connection younger than the opening window (by the chunk's now) as opening, not gone", async () => {
    const { gateway, handler } = setup();
    gateway.goneAfter.set('young', 0);
    gateway.goneAfter.set('edge', 0);
    gateway.goneAfter.set('old', 0);
    const connections = [
      connection('young', OPENING_WINDOW_MS - 1),
      // Exactly the window old: no longer possibly opening.
      connection('edge', OPENING_WINDOW_MS),
      connection('old', OLD),
    ];

    const report = await handler({ messages: [messages[0]], connections, now: NOW });

    expect(report).toEqual({ posted: 0, failed: 0, opening: 1, gone: expect.arrayContaining(['edge', 'old']) });
    expect(report.gone).toHaveLength(2);
  });

  it("judges a connection's age by the chunk's now, not by the machine's clock", async () => {
    const { gateway, handler } = setup();
    gateway.goneAfter.set('c1', 0);
    // Connected 1 s before the chunk's now, and years before Date.now(): only `now` counts.
    const young = connection('c1', 1000);

    const atConnect = await handler({ messages: [messages[0]], connections: [young], now: NOW });
    const later = await handler({ messages: [messages[0]], connections: [young], now: NOW + OPENING_WINDOW_MS });

    expect(atConnect).toEqual({ posted: 0, failed: 0, opening: 1, gone: [] });
    expect(later).toEqual({ posted: 0, failed: 0, opening: 0, gone: ['c1'] });
  });

  it('keeps posting later messages to an opening connection (it is not given up on)', async () => {
    const { gateway, handler } = setup();
    gateway.goneAfter.set('young', 0);

    const report = await handler({ messages, connections: [connection('young', 5_000)], now: NOW });

    expect(gateway.attemptsTo('young')).toBe(3);
    expect(report).toEqual({ posted: 0, failed: 0, opening: 3, gone: [] });
  });

  it('counts other errors as failed, per post, and still posts to the other connections', async () => {
    const { gateway, handler } = setup();
    gateway.failing.add('broken');
    const connections = [connection('ok', OLD), connection('broken', OLD), connection('young-broken', 10)];
    gateway.failing.add('young-broken');

    const report = await handler({ messages, connections, now: NOW });

    expect(report).toEqual({ posted: 3, failed: 6, opening: 0, gone: [] });
    expect(gateway.received('ok')).toEqual(messages);
    // A failure is not a 410: the connection is still tried for every message.
    expect(gateway.attemptsTo('broken')).toBe(3);
  });

  it('stops starting posts when the function has less than a post timeout left, and still answers', async () => {
    const { gateway, handler } = setup(1);
    const connections = ['c1', 'c2', 'c3'].map((id) => connection(id, OLD));
    // 10 s left before the first post, then each post takes 3.5 s of the function's time.
    let remaining = 10_000;
    const context = { getRemainingTimeInMillis: () => remaining };
    const post = gateway.post.bind(gateway);
    gateway.post = async (connectionId, message) => {
      remaining -= 3_500;
      await post(connectionId, message);
    };

    const report = await handler({ messages: [messages[0]], connections, now: NOW }, context);

    // 10 s, 6.5 s left: posts start; 3 s left is under 3 s + the margin: no third post.
    expect(gateway.attempts.map((attempt) => attempt.connectionId)).toEqual(['c1', 'c2']);
    expect(report).toEqual({ posted: 2, failed: 1, opening: 0, gone: [] });
  });

  it('posts nothing and reports zeros for a chunk without connections', async () => {
    const { gateway, handler } = setup();
    await expect(handler({ messages, connections: [], now: NOW })).resolves.toEqual({ posted: 0, failed: 0, opening: 0, gone: [] });
    expect(gateway.attempts).toEqual([]);
  });
});
