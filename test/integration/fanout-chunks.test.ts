/**
 * A large fan-out split into chunks, through the real use cases, the real `deliver` and the real
 * store on DynamoDB Local. The test dispatcher records each chunk and posts it with the real
 * `postChunk` (what the fan-out function runs) to the harness's recording gateway; the sender's
 * own posts go through a counting wrapper of that same gateway, so the two can be told apart.
 */
import { describe, expect, it } from 'vitest';
import type { Transition } from '#domain/presence.ts';
import { FanoutDispatchError } from '#app/errors.ts';
import { deliver, OPENING_WINDOW_MS, postChunk } from '#app/fanout.ts';
import { presenceMessage } from '#app/messages.ts';
import type { ChunkReport, ConnectionGateway, FanoutChunk, FanoutDispatcher, PresenceConfig, Ports } from '#app/ports.ts';
import { type ConnectionContext, connect, heartbeat, setStatus } from '#app/presence.ts';
import { sweep } from '#app/sweep.ts';
import { type Harness, makeHarness, type RecordingGateway, silentLogger, uniqueWorkspace } from '#test/support/harness.ts';

const SECOND = 1000;

/** What the sender posts itself, passed on to the harness's gateway. */
class SenderGateway implements ConnectionGateway {
  readonly posted: string[] = [];
  constructor(private readonly inner: RecordingGateway) {}
  async post(connectionId: string, message: unknown): Promise<void> {
    this.posted.push(connectionId);
    await this.inner.post(connectionId, message);
  }
  get(connectionId: string) {
    return this.inner.get(connectionId);
  }
  delete(connectionId: string) {
    return this.inner.delete(connectionId);
  }
}

type Refusal = (chunk: FanoutChunk, index: number) => Error | undefined;

/**
 * Records every chunk (a JSON copy, as the Lambda payload would carry it) and posts it with the
 * real postChunk, unless `refuse` returns an error for it: then nothing of it is posted.
 */
class RecordingDispatcher implements FanoutDispatcher {
  readonly chunks: FanoutChunk[] = [];
  inFlight = 0;
  maxInFlight = 0;
  refuse: Refusal | undefined;
  constructor(
    private readonly gateway: RecordingGateway,
    private readonly fanoutConcurrency: number,
  ) {}

  async post(chunk: FanoutChunk): Promise<ChunkReport> {
    const copy = JSON.parse(JSON.stringify(chunk)) as FanoutChunk;
    const index = this.chunks.length;
    this.chunks.push(copy);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      // Let every other dispatch of this fan-out start before this one does anything.
      await Promise.resolve();
      const refusal = this.refuse?.(copy, index);
      if (refusal) throw refusal;
      const report = await postChunk({ gateway: this.gateway, logger: silentLogger, config: { fanoutConcurrency: this.fanoutConcurrency } }, copy);
      return JSON.parse(JSON.stringify(report)) as ChunkReport;
    } finally {
      this.inFlight--;
    }
  }

  connectionIds(): string[] {
    return this.chunks.flatMap((chunk) => chunk.connections.map((connection) => connection.connectionId));
  }

  clear(): void {
    this.chunks.length = 0;
    this.maxInFlight = 0;
  }
}

interface Setup {
  harness: Harness;
  workspace: string;
  /** The sender's ports: the harness's, with a counting gateway and (unless disabled) the dispatcher. */
  ports: Ports;
  sender: SenderGateway;
  dispatcher: RecordingDispatcher;
  gateway: RecordingGateway;
  /** Opens a connection through `connect` at the clock's current time. */
  open(userId: string, connectionId?: string): Promise<ConnectionContext>;
  /** Forgets every post, chunk and event so far. */
  reset(): void;
}

async function setup(config: Partial<PresenceConfig> = {}, options: { dispatcher?: boolean } = {}): Promise<Setup> {
  const harness = await makeHarness({ fanoutChunkSize: 2, ...config });
  const workspace = uniqueWorkspace('fanout');
  const sender = new SenderGateway(harness.gateway);
  const dispatcher = new RecordingDispatcher(harness.gateway, harness.ports.config.fanoutConcurrency);
  const ports: Ports = {
    ...harness.ports,
    gateway: sender,
    ...(options.dispatcher === false ? {} : { fanout: dispatcher }),
  };
  const open = async (userId: string, connectionId = `conn-${userId}`): Promise<ConnectionContext> => {
    const context: ConnectionContext = {
      principal: { workspaceId: workspace, userId, name: userId.toUpperCase(), teams: ['support'], role: 'agent' },
      connectionId,
      connectedAt: harness.clock.now(),
    };
    await connect(ports, context);
    return context;
  };
  const reset = () => {
    harness.gateway.clear();
    sender.posted.length = 0;
    dispatcher.clear();
    harness.events.events.length = 0;
  };
  return { harness, workspace, ports, sender, dispatcher, gateway: harness.gateway, open, reset };
}

/** Five agents, one connection each, connected a second apart; then everything recorded is forgotten. */
async function fiveAgents(s: Setup): Promise<ConnectionContext[]> {
  const contexts: ConnectionContext[] = [];
  for (const user of ['a', 'b', 'c', 'd', 'e']) {
    contexts.push(await s.open(user));
    s.harness.clock.advance(SECOND);
  }
  s.reset();
  return contexts;
}

/** A transition to hand to `deliver` directly, for its report. */
function transition(workspaceId: string, userId: string, at: number): Transition {
  return { workspaceId, userId, name: userId.toUpperCase(), teams: [], status: 'away', previous: 'online', reason: 'manual', at };
}

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

const ALL = ['conn-a', 'conn-b', 'conn-c', 'conn-d', 'conn-e'];

describe('a fan-out larger than a chunk', () => {
  it('goes to the dispatcher as chunks, all at once, each connection in one chunk with every message in order', async () => {
    const s = await setup({ defaultIdleTimeoutSeconds: 60 });
    const [a] = await fiveAgents(s);
    // a (active at connect) went idle at +60 s; their next active heartbeat publishes that idle,
    // then the return: two transitions in one fan-out.
    s.harness.clock.advance(56 * SECOND);
    const now = s.harness.clock.now();

    const transitions = await heartbeat(s.ports, a!, true);

    expect(transitions.map((t) => [t.userId, t.previous, t.status, t.reason])).toEqual([
      ['a', 'online', 'offline', 'idle'],
      ['a', 'offline', 'online', 'active'],
    ]);
    const messages = transitions.map(presenceMessage);
    expect(s.dispatcher.chunks).toHaveLength(3);
    expect(s.dispatcher.chunks.map((chunk) => chunk.connections.length).sort()).toEqual([1, 2, 2]);
    expect(s.dispatcher.maxInFlight).toBe(3);
    // Every connection in exactly one chunk, with its record as stored.
    expect(sorted(s.dispatcher.connectionIds())).toEqual(ALL);
    for (const chunk of s.dispatcher.chunks) {
      expect(chunk.messages).toEqual(messages);
      expect(chunk.now).toBe(now);
      for (const connection of chunk.connections) {
        expect(connection).toEqual({ connectionId: connection.connectionId, userId: connection.connectionId.slice(5), connectedAt: expect.any(Number) });
      }
    }
    // The sender posted nothing itself; every connection got both messages, in order, once.
    expect(s.sender.posted).toEqual([]);
    for (const id of ALL) expect(s.gateway.received(id)).toEqual(messages);
    expect(s.gateway.posts).toHaveLength(10);
    // Each transition's event is published once, by the sender.
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([
      ['a', 'offline', 'idle'],
      ['a', 'online', 'active'],
    ]);
  });

  it('through setStatus: one message to every connection, one event', async () => {
    const s = await setup();
    const [, b] = await fiveAgents(s);

    await setStatus(s.ports, b!, 'away');

    expect(s.dispatcher.chunks).toHaveLength(3);
    expect(sorted(s.dispatcher.connectionIds())).toEqual(ALL);
    expect(s.sender.posted).toEqual([]);
    for (const id of ALL) {
      expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.status, m.reason])).toEqual([['b', 'away', 'manual']]);
    }
    expect(s.gateway.posts).toHaveLength(5);
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([['b', 'away', 'manual']]);
  });

  it("deliver's report counts the chunks dispatched and the posts their functions made", async () => {
    const s = await setup();
    await fiveAgents(s);

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(report).toEqual({ posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 3 });
    for (const id of ALL) expect(s.gateway.received(id)).toHaveLength(1);
  });

  it("leaves a connection still in its $connect out of every chunk (its own connect's fan-out)", async () => {
    const s = await setup();
    for (const user of ['a', 'b', 'c', 'd']) await s.open(user);
    s.reset();

    await s.open('e');

    // Four connections besides the opening one: two chunks of two, and nothing to conn-e.
    expect(s.dispatcher.chunks).toHaveLength(2);
    expect(sorted(s.dispatcher.connectionIds())).toEqual(['conn-a', 'conn-b', 'conn-c', 'conn-d']);
    expect(s.gateway.received('conn-e')).toEqual([]);
    expect(s.sender.posted).toEqual([]);
  });
});

describe('a fan-out within one chunk', () => {
  it('is posted by the sender and never reaches the dispatcher', async () => {
    const s = await setup();
    const a = await s.open('a');
    await s.open('b');
    s.reset();

    // Exactly the chunk size: still one chunk.
    await setStatus(s.ports, a, 'away');

    expect(s.dispatcher.chunks).toEqual([]);
    expect(sorted(s.sender.posted)).toEqual(['conn-a', 'conn-b']);
    for (const id of ['conn-a', 'conn-b']) expect(s.gateway.received(id, 'presence').map((m) => m.status)).toEqual(['away']);
    expect(s.harness.events.events).toHaveLength(1);

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);
    expect(report).toEqual({ posted: 2, gone: 0, failed: 0, opening: 0, dispatched: 0 });
    expect(s.dispatcher.chunks).toEqual([]);
  });

  it('of the third agent connecting (two others, the opening one skipped) is not dispatched either', async () => {
    const s = await setup();
    await s.open('a');
    await s.open('b');
    s.reset();

    await s.open('c');

    expect(s.dispatcher.chunks).toEqual([]);
    expect(sorted(s.sender.posted)).toEqual(['conn-a', 'conn-b']);
  });
});

describe('without a dispatcher', () => {
  it('a large fan-out is posted by the sender, once to every connection', async () => {
    const s = await setup({}, { dispatcher: false });
    expect(s.ports.fanout).toBeUndefined();
    const [, , c] = await fiveAgents(s);

    await setStatus(s.ports, c!, 'away');

    expect(s.dispatcher.chunks).toEqual([]);
    expect(sorted(s.sender.posted)).toEqual(ALL);
    for (const id of ALL) expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.status])).toEqual([['c', 'away']]);
    expect(s.harness.events.events).toHaveLength(1);

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'c', s.harness.clock.now())]);
    expect(report).toEqual({ posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 0 });
  });
});

describe('a chunk the dispatcher could not hand over', () => {
  it('refused before it ran (maybePosted false): the sender posts it, each connection gets the message once', async () => {
    const s = await setup();
    const [a] = await fiveAgents(s);
    s.dispatcher.refuse = (_chunk, index) => (index === 1 ? new FanoutDispatchError('throttled', false) : undefined);

    await setStatus(s.ports, a!, 'away');

    const refused = s.dispatcher.chunks[1]!.connections.map((connection) => connection.connectionId);
    expect(refused).toHaveLength(2);
    expect(sorted(s.sender.posted)).toEqual(sorted(refused));
    for (const id of ALL) expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.status])).toEqual([['a', 'away']]);
    expect(s.gateway.posts).toHaveLength(5);
    expect(s.harness.events.events).toHaveLength(1);
  });

  it("refused before it ran: deliver's report counts its posts as made", async () => {
    const s = await setup();
    await fiveAgents(s);
    s.dispatcher.refuse = (_chunk, index) => (index === 0 ? new FanoutDispatchError('throttled', false) : undefined);

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(report).toEqual({ posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 3 });
    expect(sorted(s.sender.posted)).toEqual(sorted(s.dispatcher.chunks[0]!.connections.map((c) => c.connectionId)));
    for (const id of ALL) expect(s.gateway.received(id)).toHaveLength(1);
  });

  it('failed after it may have run (maybePosted true): not reposted, counted failed; the others are posted', async () => {
    const s = await setup();
    const [a] = await fiveAgents(s);
    s.dispatcher.refuse = (_chunk, index) => (index === 1 ? new FanoutDispatchError('function error', true) : undefined);

    await setStatus(s.ports, a!, 'away');
    const lost = s.dispatcher.chunks[1]!.connections.map((connection) => connection.connectionId);
    const reached = ALL.filter((id) => !lost.includes(id));

    expect(lost).toHaveLength(2);
    expect(s.sender.posted).toEqual([]);
    for (const id of lost) expect(s.gateway.received(id)).toEqual([]);
    for (const id of reached) expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.status])).toEqual([['a', 'away']]);
    // The transition is committed and published all the same.
    expect(s.harness.events.events.map((e) => [e.userId, e.status])).toEqual([['a', 'away']]);
  });

  it("failed after it may have run: deliver's report counts its connections as failed", async () => {
    const s = await setup();
    await fiveAgents(s);
    // The last chunk holds one connection.
    s.dispatcher.refuse = (_chunk, index) => (index !== 2 ? new FanoutDispatchError('function error', true) : undefined);

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(s.dispatcher.chunks.map((chunk) => chunk.connections.length)).toEqual([2, 2, 1]);
    expect(report).toEqual({ posted: 1, gone: 0, failed: 4, opening: 0, dispatched: 3 });
    expect(s.sender.posted).toEqual([]);
    expect(s.gateway.posts).toHaveLength(1);
  });

  it('any other error from the dispatcher is treated as maybe posted: not reposted', async () => {
    const s = await setup();
    await fiveAgents(s);
    s.dispatcher.refuse = (_chunk, index) => (index === 0 ? new Error('unexpected') : undefined);

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(report).toEqual({ posted: 3, gone: 0, failed: 2, opening: 0, dispatched: 3 });
    expect(s.sender.posted).toEqual([]);
  });
});

/** A gateway that counts the posts in flight at once, each held for a turn of the event loop. */
class ConcurrencyGateway extends SenderGateway {
  inFlight = 0;
  maxInFlight = 0;
  override async post(connectionId: string, message: unknown): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      await super.post(connectionId, message);
    } finally {
      this.inFlight--;
    }
  }
}

describe('the sender keeps to fanoutConcurrency', () => {
  it('when every chunk is refused and it posts them all itself', async () => {
    const s = await setup({ fanoutConcurrency: 1 });
    await fiveAgents(s);
    const gateway = new ConcurrencyGateway(s.gateway);
    s.dispatcher.refuse = () => new FanoutDispatchError('throttled', false);

    const report = await deliver({ ...s.ports, gateway }, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(report).toMatchObject({ posted: 5, dispatched: 3 });
    expect(gateway.maxInFlight).toBe(1);
    for (const id of ALL) expect(s.gateway.received(id)).toHaveLength(1);
  });

  it('without a dispatcher, however many chunks the connections make', async () => {
    const s = await setup({ fanoutConcurrency: 2 }, { dispatcher: false });
    await fiveAgents(s);
    const gateway = new ConcurrencyGateway(s.gateway);

    await deliver({ ...s.ports, gateway }, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(gateway.maxInFlight).toBe(2);
    for (const id of ALL) expect(s.gateway.received(id)).toHaveLength(1);
  });
});

describe('a chunk reporting a gone connection', () => {
  /**
   * a..e connect a second apart, b with a second tab (conn-b2); then time passes beyond the opening
   * window, within the 90 s lease and the idle timeout, and conn-c and conn-b2 are closed unseen.
   */
  async function withGone(config: Partial<PresenceConfig>) {
    const s = await setup(config);
    const contexts = await fiveAgents(s);
    await s.open('b', 'conn-b2');
    s.harness.clock.advance(OPENING_WINDOW_MS + SECOND);
    s.reset();
    s.gateway.gone.add('conn-c');
    s.gateway.gone.add('conn-b2');
    return { s, a: contexts[0]! };
  }

  it("is forgotten by the sender, and its user's disconnect (their last connection) reaches the others", async () => {
    const { s, a } = await withGone({ graceMs: 0 });

    await setStatus(s.ports, a, 'away');

    // The sender deleted both items.
    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(['conn-a', 'conn-b', 'conn-d', 'conn-e']);
    // c had no other connection: offline now, and told to the remaining connections after a's change.
    // b still has conn-b: nothing about b.
    for (const id of ['conn-a', 'conn-b', 'conn-d', 'conn-e']) {
      expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.previous, m.status, m.reason])).toEqual([
        ['a', 'online', 'away', 'manual'],
        ['c', 'online', 'offline', 'disconnect'],
      ]);
    }
    expect(s.gateway.received('conn-c')).toEqual([]);
    expect(s.gateway.received('conn-b2')).toEqual([]);
    // Second round: chunks again (four connections), without the forgotten ones.
    expect(s.dispatcher.chunks).toHaveLength(3 + 2);
    expect(sorted(s.dispatcher.chunks.slice(3).flatMap((chunk) => chunk.connections.map((c) => c.connectionId)))).toEqual([
      'conn-a',
      'conn-b',
      'conn-d',
      'conn-e',
    ]);
    expect(s.sender.posted).toEqual([]);
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([
      ['a', 'away', 'manual'],
      ['c', 'offline', 'disconnect'],
    ]);
    const c = await s.harness.store.getAgent(s.workspace, 'c');
    expect(c).toMatchObject({ status: 'offline', reason: 'disconnect', connections: {} });
    const b = await s.harness.store.getAgent(s.workspace, 'b');
    expect(Object.keys(b!.connections)).toEqual(['conn-b']);
    expect(b!.status).toBe('online');
  });

  it("one gone user's failed disconnect does not drop the others' committed disconnects", async () => {
    const { s, a } = await withGone({ graceMs: 0 });
    s.gateway.gone.add('conn-d');
    const store = s.ports.store;
    // Reading d fails every time (DynamoDB down for that item, say); c's disconnect goes through.
    const failing: Ports['store'] = Object.create(store, {
      getAgentWithSettings: {
        value: (workspaceId: string, userId: string) =>
          userId === 'd' ? Promise.reject(new Error('injected')) : store.getAgentWithSettings(workspaceId, userId),
      },
    });

    await setStatus({ ...s.ports, store: failing }, a, 'away');

    expect(s.harness.events.events.map((e) => [e.userId, e.reason])).toEqual([
      ['a', 'manual'],
      ['c', 'disconnect'],
    ]);
    for (const id of ['conn-a', 'conn-b', 'conn-e']) {
      expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.reason])).toContainEqual(['c', 'disconnect']);
    }
  });

  it("deliver's report counts the gone connections", async () => {
    const { s } = await withGone({ graceMs: 0 });

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    // Round 1: 6 connections, 4 posted, 2 gone (3 chunks); round 2: c's disconnect to 4 (2 chunks).
    expect(report).toEqual({ posted: 8, gone: 2, failed: 0, opening: 0, dispatched: 5 });
  });

  it('with a reconnect grace: the user goes offline once the grace passes, told to the remaining connections', async () => {
    const { s, a } = await withGone({ graceMs: 10 * SECOND });

    await setStatus(s.ports, a, 'away');

    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(['conn-a', 'conn-b', 'conn-d', 'conn-e']);
    expect(s.harness.events.events.map((e) => e.userId)).toEqual(['a']);
    s.reset();

    s.harness.clock.advance(10 * SECOND);
    await sweep(s.ports);

    for (const id of ['conn-a', 'conn-b', 'conn-d', 'conn-e']) {
      expect(s.gateway.received(id, 'presence').map((m) => [m.userId, m.status, m.reason])).toEqual([['c', 'offline', 'disconnect']]);
    }
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([['c', 'offline', 'disconnect']]);
  });

  it('a 410 from a connection younger than the opening window is not forgotten', async () => {
    const s = await setup({ graceMs: 0 });
    await fiveAgents(s);
    // a..e connected 5..1 s ago; 25 s later conn-e (26 s old by the sender's clock) may still be
    // in its $connect, while conn-a (exactly 30 s old) is past the window.
    s.harness.clock.advance(OPENING_WINDOW_MS - 5 * SECOND);
    s.gateway.gone.add('conn-e');

    const report = await deliver(s.ports, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);

    expect(report).toEqual({ posted: 4, gone: 0, failed: 0, opening: 1, dispatched: 3 });
    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(ALL);
    expect((await s.harness.store.getAgent(s.workspace, 'e'))!.status).toBe('online');
    expect(s.harness.events.events).toHaveLength(1);

    // The same 410 from the oldest connection, conn-a, at exactly the window: gone.
    s.gateway.gone.add('conn-a');
    s.reset();
    const second = await deliver(s.ports, s.workspace, [transition(s.workspace, 'b', s.harness.clock.now())]);
    expect(second).toMatchObject({ gone: 1, opening: 2 }); // conn-e in both rounds (a's disconnect too)
    const after = await s.harness.store.listConnections(s.workspace);
    expect(sorted(after.map((connection) => connection.connectionId))).toEqual(['conn-b', 'conn-c', 'conn-d', 'conn-e']);
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([
      ['b', 'away', 'manual'],
      ['a', 'offline', 'disconnect'],
    ]);
  });
});

describe('the events of a large fan-out', () => {
  it('are published while the chunks are still being posted, not after', async () => {
    const s = await setup();
    await fiveAgents(s);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    const slow: FanoutDispatcher = {
      async post(chunk) {
        started++;
        await gate;
        return postChunk({ gateway: s.gateway, logger: silentLogger, config: { fanoutConcurrency: 8 } }, chunk);
      },
    };

    const delivering = deliver({ ...s.ports, fanout: slow }, s.workspace, [transition(s.workspace, 'a', s.harness.clock.now())]);
    while (started < 3) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));

    expect(s.harness.events.events.map((e) => [e.userId, e.reason])).toEqual([['a', 'manual']]);
    expect(s.gateway.posts).toEqual([]);
    release();
    expect(await delivering).toMatchObject({ posted: 5, dispatched: 3 });
    expect(s.harness.events.events).toHaveLength(1);
  });
});
