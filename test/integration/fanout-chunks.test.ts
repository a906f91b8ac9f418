/**
 * A large delivery split into chunks, through the real use cases, the real `deliverChanges` and the
 * real store on DynamoDB Local. The harness hands every commit's changes to `deliverChanges` right
 * after the write (the stream's stand-in) with the harness's ports; `setup` gives those ports the
 * test dispatcher and a counting gateway, so deliveries of use cases and of gone connections'
 * disconnects go through them too. The test dispatcher records each chunk and posts it with the
 * real `postChunk` (what the fan-out function runs) to the harness's recording gateway; the
 * sender's own posts go through the counting wrapper of that same gateway, so the two can be told
 * apart.
 */
import { describe, expect, it } from 'vitest';
import type { Transition } from '#domain/agent.ts';
import { FanoutDispatchError } from '#app/errors.ts';
import { deliverChanges, OPENING_WINDOW_MS, postChunk } from '#app/fanout.ts';
import { presenceChange, presenceMessage } from '#app/messages.ts';
import type { ChunkReport, ConnectionGateway, FanoutChunk, FanoutDispatcher, PresenceConfig, Ports } from '#app/ports.ts';
import { type ConnectionContext, connect, heartbeat, setStatus } from '#app/agent-actions.ts';
import { sweep } from '#app/sweep.ts';
import { type Harness, makeHarness, type RecordingGateway, silentLogger, uniqueWorkspace, storedAgent } from '#test/support/harness.ts';

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
 * real postChunk, unless `refuse` returns an error for it: then nothing of it is posted. The
 * reports of the chunks it posted are recorded too: a delivery started by a write (the stream's
 * stand-in) returns its report to nobody.
 */
class RecordingDispatcher implements FanoutDispatcher {
  readonly chunks: FanoutChunk[] = [];
  readonly reports: ChunkReport[] = [];
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
      // Let every other dispatch of this delivery start before this one does anything.
      await Promise.resolve();
      const refusal = this.refuse?.(copy, index);
      if (refusal) throw refusal;
      const report = await postChunk({ gateway: this.gateway, logger: silentLogger, config: { fanoutConcurrency: this.fanoutConcurrency } }, copy);
      this.reports.push(report);
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
    this.reports.length = 0;
    this.maxInFlight = 0;
  }
}

interface Setup {
  harness: Harness;
  workspace: string;
  /**
   * The sender's ports: the harness's own object, given a counting gateway and (unless disabled)
   * the dispatcher, so the harness's stream stand-in delivers with them as well.
   */
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
  // In place: the harness delivers each commit with this very object.
  const ports = harness.ports;
  ports.gateway = sender;
  if (options.dispatcher !== false) ports.fanout = dispatcher;
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

/** A committed change to hand to `deliverChanges` directly, as the stream would, for its outcome. */
function transition(workspaceId: string, userId: string, at: number, version: number, teams: string[] = []): Transition {
  return { workspaceId, userId, name: userId.toUpperCase(), teams, status: 'away', previous: 'online', reason: 'manual', at, version };
}

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

/** The connection ids a delivery's chunks reported gone, and how many 410s they counted as opening. */
function chunkOutcome(dispatcher: RecordingDispatcher): { gone: string[]; opening: number } {
  return {
    gone: sorted(dispatcher.reports.flatMap((report) => report.gone)),
    opening: dispatcher.reports.reduce((sum, report) => sum + report.opening, 0),
  };
}

const ALL = ['conn-a', 'conn-b', 'conn-c', 'conn-d', 'conn-e'];

describe('a delivery larger than a chunk', () => {
  it('goes to the dispatcher as chunks, all at once, each connection in one chunk with one message carrying every change in order', async () => {
    // Prepare: a (active at connect) went idle at +60 s; their next active heartbeat commits that
    // idle, then the return: two changes in one write, so one batch.
    const s = await setup({ defaultIdleTimeoutSeconds: 60 });
    const [a] = await fiveAgents(s);
    s.harness.clock.advance(56 * SECOND);
    const now = s.harness.clock.now();

    // Act
    const transitions = await heartbeat(s.ports, a!, true);

    // Assess
    expect(transitions.map((t) => [t.userId, t.previous, t.status, t.reason])).toEqual([
      ['a', 'online', 'offline', 'idle'],
      ['a', 'offline', 'online', 'active'],
    ]);
    expect(transitions[1]!.version).toBeGreaterThan(transitions[0]!.version);
    const message = presenceMessage(transitions);
    expect(s.dispatcher.chunks).toHaveLength(3);
    expect(s.dispatcher.chunks.map((chunk) => chunk.connections.length).sort()).toEqual([1, 2, 2]);
    expect(s.dispatcher.maxInFlight).toBe(3);
    // Every connection in exactly one chunk, with its record as stored.
    expect(sorted(s.dispatcher.connectionIds())).toEqual(ALL);
    for (const chunk of s.dispatcher.chunks) {
      expect(chunk.messages).toEqual([message]);
      expect(chunk.now).toBe(now);
      for (const connection of chunk.connections) {
        expect(connection).toEqual({ connectionId: connection.connectionId, userId: connection.connectionId.slice(5), connectedAt: expect.any(Number) });
      }
    }
    // The sender posted nothing itself; every connection got one message with both changes, in order.
    expect(s.sender.posted).toEqual([]);
    for (const id of ALL) expect(s.gateway.received(id)).toEqual([message]);
    expect(s.gateway.posts).toHaveLength(5);
    // Each change's event is published once, by the sender.
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([
      ['a', 'offline', 'idle'],
      ['a', 'online', 'active'],
    ]);
  });

  it('through setStatus: one message to every connection, one event', async () => {
    const s = await setup();
    const [, b] = await fiveAgents(s);

    const [change] = await setStatus(s.ports, b!, 'away');

    expect(s.dispatcher.chunks).toHaveLength(3);
    expect(sorted(s.dispatcher.connectionIds())).toEqual(ALL);
    expect(s.sender.posted).toEqual([]);
    for (const id of ALL) {
      expect(s.gateway.received(id)).toEqual([presenceMessage([change!])]);
      expect(s.gateway.changes(id).map((m) => [m.userId, m.status, m.reason])).toEqual([['b', 'away', 'manual']]);
    }
    expect(s.gateway.posts).toHaveLength(5);
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([['b', 'away', 'manual']]);
  });

  it("deliverChanges' report counts the chunks dispatched and the posts their functions made", async () => {
    const s = await setup();
    await fiveAgents(s);

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(outcome).toEqual({ report: { posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 3 }, retry: [] });
    for (const id of ALL) expect(s.gateway.received(id)).toHaveLength(1);
  });

  // Replaces "leaves a connection still in its $connect out of every chunk": there is no `opening`
  // option any more. The connection is posted to like any other; API Gateway answers 410 until
  // its $connect returns, which within the opening window is counted, not taken for gone.
  it('its own connect reaches a connection still in its $connect: in one chunk, its 410 counted opening, not forgotten', async () => {
    // Prepare: four connections; conn-e's $connect has not returned, so the gateway refuses it.
    const s = await setup({ graceMs: 0 });
    for (const user of ['a', 'b', 'c', 'd']) await s.open(user);
    s.reset();
    s.gateway.gone.add('conn-e');

    // Act
    const opened = await s.open('e');

    // Assess: five connections, conn-e among them: three chunks, conn-e in exactly one.
    expect(s.dispatcher.chunks).toHaveLength(3);
    expect(sorted(s.dispatcher.connectionIds())).toEqual(ALL);
    expect(s.sender.posted).toEqual([]);
    expect(chunkOutcome(s.dispatcher)).toEqual({ gone: [], opening: 1 });
    for (const id of ['conn-a', 'conn-b', 'conn-c', 'conn-d']) {
      expect(s.gateway.changes(id).map((m) => [m.userId, m.status, m.reason])).toEqual([['e', 'online', 'connect']]);
    }
    expect(s.gateway.received('conn-e')).toEqual([]);
    // Not forgotten: its item and its user's connection stay, and nothing was disconnected.
    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(ALL);
    expect(await storedAgent(s.harness.store, s.workspace, 'e')).toMatchObject({ status: 'online', connections: { 'conn-e': expect.anything() } });
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([['e', 'online', 'connect']]);

    // Once its $connect has returned, the next change reaches it.
    s.gateway.gone.delete('conn-e');
    s.reset();
    await setStatus(s.ports, opened, 'away');
    expect(s.gateway.changes('conn-e').map((m) => [m.userId, m.status])).toEqual([['e', 'away']]);
  });
});

describe('a batch of several users of one workspace', () => {
  it('posts each connection ONE message with the changes it subscribes to, in order; a team connection only its team’s, or nothing', async () => {
    // Prepare: the five whole-workspace connections, one following sales, one following billing.
    const s = await setup();
    await fiveAgents(s);
    const connectedAt = s.harness.clock.now();
    await s.harness.store.putConnection(s.workspace, { connectionId: 'conn-sales', userId: 'f', connectedAt, scope: ['sales'] });
    await s.harness.store.putConnection(s.workspace, { connectionId: 'conn-billing', userId: 'g', connectedAt, scope: ['billing'] });
    const now = s.harness.clock.now();
    const first = transition(s.workspace, 'a', now, 4, ['sales']);
    const second = transition(s.workspace, 'b', now, 9, ['support']);

    // Act
    const outcome = await deliverChanges(s.ports, [first, second]);

    // Assess: one message per connection, both changes, a's first, each with its version.
    for (const id of ALL) {
      expect(s.gateway.received(id)).toEqual([{ type: 'presence', changes: [presenceChange(first), presenceChange(second)] }]);
    }
    expect(s.gateway.changes('conn-a').map((change) => [change.userId, change.version])).toEqual([
      ['a', 4],
      ['b', 9],
    ]);
    // The sales follower gets a's change only; the billing follower, covered by neither, nothing.
    expect(s.gateway.received('conn-sales')).toEqual([{ type: 'presence', changes: [presenceChange(first)] }]);
    expect(s.gateway.received('conn-billing')).toEqual([]);
    expect(s.gateway.posts).toHaveLength(6);
    // Six connections with a message: chunks of the whole-workspace audience and one of the sales
    // audience, each connection in exactly one of them.
    expect(sorted(s.dispatcher.connectionIds())).toEqual(sorted([...ALL, 'conn-sales']));
    expect(s.dispatcher.chunks).toHaveLength(4);
    expect(outcome).toEqual({ report: { posted: 6, gone: 0, failed: 0, opening: 0, dispatched: 4 }, retry: [] });
    expect(s.harness.events.events.map((e) => [e.userId, e.status])).toEqual([
      ['a', 'away'],
      ['b', 'away'],
    ]);
  });
});

describe('a batch whose connections of one workspace cannot be listed', () => {
  it('returns exactly that workspace’s changes to retry, posts nothing for it, and still delivers the other workspace', async () => {
    // Prepare: the five agents' workspace, and another whose connections cannot be listed.
    const s = await setup();
    await fiveAgents(s);
    const failed = uniqueWorkspace('unlisted');
    const connectedAt = s.harness.clock.now();
    await s.harness.store.putConnection(failed, { connectionId: 'conn-x', userId: 'x', connectedAt });
    await s.harness.store.putConnection(failed, { connectionId: 'conn-y', userId: 'y', connectedAt });
    const store = s.ports.store;
    const failing: Ports['store'] = Object.create(store, {
      listAudience: {
        value: (workspaceId: string, users: string[], teams: string[]) =>
          workspaceId === failed ? Promise.reject(new Error('injected')) : store.listAudience(workspaceId, users, teams),
      },
      listConnections: {
        value: (workspaceId: string) => (workspaceId === failed ? Promise.reject(new Error('injected')) : store.listConnections(workspaceId)),
      },
    });
    const now = s.harness.clock.now();
    const x = transition(failed, 'x', now, 3);
    const a = transition(s.workspace, 'a', now, 5);
    const y = transition(failed, 'y', now, 7);

    // Act
    const outcome = await deliverChanges({ ...s.ports, store: failing }, [x, a, y]);

    // Assess
    expect(outcome.retry).toEqual([x, y]);
    expect(outcome.report).toEqual({ posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 3 });
    expect(s.gateway.received('conn-x')).toEqual([]);
    expect(s.gateway.received('conn-y')).toEqual([]);
    expect(sorted(s.gateway.posts.map((post) => post.connectionId))).toEqual(ALL);
    expect(sorted(s.dispatcher.connectionIds())).toEqual(ALL);
    for (const id of ALL) expect(s.gateway.received(id)).toEqual([presenceMessage([a])]);
    expect(s.harness.events.events).toContainEqual({ workspaceId: s.workspace, userId: 'a', status: 'away', previous: 'online', reason: 'manual', at: now });
  });
});

describe('a delivery within one chunk', () => {
  it('is posted by the sender and never reaches the dispatcher', async () => {
    const s = await setup();
    const a = await s.open('a');
    await s.open('b');
    s.reset();

    // Exactly the chunk size: still one chunk.
    await setStatus(s.ports, a, 'away');

    expect(s.dispatcher.chunks).toEqual([]);
    expect(sorted(s.sender.posted)).toEqual(['conn-a', 'conn-b']);
    for (const id of ['conn-a', 'conn-b']) expect(s.gateway.changes(id).map((m) => m.status)).toEqual(['away']);
    expect(s.harness.events.events).toHaveLength(1);

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 3)]);
    expect(outcome).toEqual({ report: { posted: 2, gone: 0, failed: 0, opening: 0, dispatched: 0 }, retry: [] });
    expect(s.dispatcher.chunks).toEqual([]);
  });

  // Replaces "of the third agent connecting (two others, the opening one skipped) is not
  // dispatched either": the opening connection is no longer skipped, so it counts toward the chunk
  // size; the second agent connecting makes two targets, one chunk, posted by the sender.
  it('of the second agent connecting, its own connection included, is posted by the sender; that 410 forgets nothing', async () => {
    const s = await setup({ graceMs: 0 });
    await s.open('a');
    s.reset();
    s.gateway.gone.add('conn-b');

    await s.open('b');

    expect(s.dispatcher.chunks).toEqual([]);
    expect(sorted(s.sender.posted)).toEqual(['conn-a', 'conn-b']);
    expect(s.gateway.changes('conn-a').map((m) => [m.userId, m.status, m.reason])).toEqual([['b', 'online', 'connect']]);
    expect(s.gateway.received('conn-b')).toEqual([]);
    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(['conn-a', 'conn-b']);
    expect((await storedAgent(s.harness.store, s.workspace, 'b'))!.status).toBe('online');
    expect(s.harness.events.events.map((e) => [e.userId, e.reason])).toEqual([['b', 'connect']]);
  });
});

describe('without a dispatcher', () => {
  it('a large delivery is posted by the sender, once to every connection', async () => {
    const s = await setup({}, { dispatcher: false });
    expect(s.ports.fanout).toBeUndefined();
    const [, , c] = await fiveAgents(s);

    await setStatus(s.ports, c!, 'away');

    expect(s.dispatcher.chunks).toEqual([]);
    expect(sorted(s.sender.posted)).toEqual(ALL);
    for (const id of ALL) expect(s.gateway.changes(id).map((m) => [m.userId, m.status])).toEqual([['c', 'away']]);
    expect(s.harness.events.events).toHaveLength(1);

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'c', s.harness.clock.now(), 3)]);
    expect(outcome).toEqual({ report: { posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 0 }, retry: [] });
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
    for (const id of ALL) expect(s.gateway.changes(id).map((m) => [m.userId, m.status])).toEqual([['a', 'away']]);
    expect(s.gateway.posts).toHaveLength(5);
    expect(s.harness.events.events).toHaveLength(1);
  });

  it("refused before it ran: deliverChanges' report counts its posts as made", async () => {
    const s = await setup();
    await fiveAgents(s);
    s.dispatcher.refuse = (_chunk, index) => (index === 0 ? new FanoutDispatchError('throttled', false) : undefined);

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(outcome).toEqual({ report: { posted: 5, gone: 0, failed: 0, opening: 0, dispatched: 3 }, retry: [] });
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
    for (const id of reached) expect(s.gateway.changes(id).map((m) => [m.userId, m.status])).toEqual([['a', 'away']]);
    // The change is committed and published all the same.
    expect(s.harness.events.events.map((e) => [e.userId, e.status])).toEqual([['a', 'away']]);
  });

  it("failed after it may have run: deliverChanges' report counts its connections as failed, and nothing is retried", async () => {
    const s = await setup();
    await fiveAgents(s);
    // The last chunk holds one connection.
    s.dispatcher.refuse = (_chunk, index) => (index !== 2 ? new FanoutDispatchError('function error', true) : undefined);

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(s.dispatcher.chunks.map((chunk) => chunk.connections.length)).toEqual([2, 2, 1]);
    expect(outcome).toEqual({ report: { posted: 1, gone: 0, failed: 4, opening: 0, dispatched: 3 }, retry: [] });
    expect(s.sender.posted).toEqual([]);
    expect(s.gateway.posts).toHaveLength(1);
  });

  it('any other error from the dispatcher is treated as maybe posted: not reposted', async () => {
    const s = await setup();
    await fiveAgents(s);
    s.dispatcher.refuse = (_chunk, index) => (index === 0 ? new Error('unexpected') : undefined);

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(outcome).toEqual({ report: { posted: 3, gone: 0, failed: 2, opening: 0, dispatched: 3 }, retry: [] });
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

    const { report } = await deliverChanges({ ...s.ports, gateway }, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(report).toMatchObject({ posted: 5, dispatched: 3 });
    expect(gateway.maxInFlight).toBe(1);
    for (const id of ALL) expect(s.gateway.received(id)).toHaveLength(1);
  });

  it('without a dispatcher, however many chunks the connections make', async () => {
    const s = await setup({ fanoutConcurrency: 2 }, { dispatcher: false });
    await fiveAgents(s);
    const gateway = new ConcurrencyGateway(s.gateway);

    const { report } = await deliverChanges({ ...s.ports, gateway }, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(report).toMatchObject({ posted: 5, dispatched: 0 });
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
    // c had no other connection: offline now, a write whose change is delivered after a's, in a
    // message of its own. b still has conn-b: nothing about b.
    for (const id of ['conn-a', 'conn-b', 'conn-d', 'conn-e']) {
      expect(s.gateway.received(id)).toHaveLength(2);
      expect(s.gateway.changes(id).map((m) => [m.userId, m.previous, m.status, m.reason])).toEqual([
        ['a', 'online', 'away', 'manual'],
        ['c', 'online', 'offline', 'disconnect'],
      ]);
    }
    expect(s.gateway.received('conn-c')).toEqual([]);
    expect(s.gateway.received('conn-b2')).toEqual([]);
    // a's delivery: six connections, three chunks; c's: chunks again (four connections), without
    // the forgotten ones.
    expect(s.dispatcher.chunks).toHaveLength(3 + 2);
    expect(sorted(s.dispatcher.chunks.slice(3).flatMap((chunk) => chunk.connections.map((c) => c.connectionId)))).toEqual([
      'conn-a',
      'conn-b',
      'conn-d',
      'conn-e',
    ]);
    expect(chunkOutcome(s.dispatcher)).toEqual({ gone: ['conn-b2', 'conn-c'], opening: 0 });
    expect(s.sender.posted).toEqual([]);
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([
      ['a', 'away', 'manual'],
      ['c', 'offline', 'disconnect'],
    ]);
    const c = await storedAgent(s.harness.store, s.workspace, 'c');
    expect(c).toMatchObject({ status: 'offline', reason: 'disconnect', connections: {} });
    const b = await storedAgent(s.harness.store, s.workspace, 'b');
    expect(Object.keys(b!.connections)).toEqual(['conn-b']);
    expect(b!.status).toBe('online');
  });

  it("one gone user's failed disconnect does not drop the others' committed disconnects", async () => {
    const { s } = await withGone({ graceMs: 0 });
    s.gateway.gone.add('conn-d');
    const store = s.ports.store;
    // Reading d fails every time (DynamoDB down for that item, say); c's disconnect goes through.
    const failing: Ports['store'] = Object.create(store, {
      getAgentWithSettings: {
        value: (workspaceId: string, userId: string) =>
          userId === 'd' ? Promise.reject(new Error('injected')) : store.getAgentWithSettings(workspaceId, userId),
      },
    });

    const outcome = await deliverChanges({ ...s.ports, store: failing }, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(outcome).toEqual({ report: { posted: 3, gone: 3, failed: 0, opening: 0, dispatched: 3 }, retry: [] });
    expect(s.harness.events.events.map((e) => [e.userId, e.reason])).toEqual([
      ['a', 'manual'],
      ['c', 'disconnect'],
    ]);
    for (const id of ['conn-a', 'conn-b', 'conn-e']) {
      expect(s.gateway.changes(id).map((m) => [m.userId, m.reason])).toEqual([
        ['a', 'manual'],
        ['c', 'disconnect'],
      ]);
    }
    // d's item is forgotten all the same; d stays online until its lease ends.
    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(['conn-a', 'conn-b', 'conn-e']);
    expect((await storedAgent(s.harness.store, s.workspace, 'd'))!.status).toBe('online');
  });

  it("deliverChanges' report counts the gone connections; the disconnect is delivered as a batch of its own", async () => {
    const { s } = await withGone({ graceMs: 0 });

    const outcome = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    // Six connections, 4 posted, 2 gone (3 chunks). c's disconnect is a write the stream brings
    // back: not in this report, delivered to the remaining 4 (2 more chunks).
    expect(outcome).toEqual({ report: { posted: 4, gone: 2, failed: 0, opening: 0, dispatched: 3 }, retry: [] });
    expect(s.dispatcher.chunks).toHaveLength(3 + 2);
    for (const id of ['conn-a', 'conn-b', 'conn-d', 'conn-e']) {
      expect(s.gateway.changes(id).map((m) => [m.userId, m.reason])).toEqual([
        ['a', 'manual'],
        ['c', 'disconnect'],
      ]);
    }
  });

  it('with a reconnect grace: the user goes offline once the grace passes, told to the remaining connections', async () => {
    const { s, a } = await withGone({ graceMs: 10 * SECOND });

    await setStatus(s.ports, a, 'away');

    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(['conn-a', 'conn-b', 'conn-d', 'conn-e']);
    expect(s.harness.events.events.map((e) => e.userId)).toEqual(['a']);
    expect((await storedAgent(s.harness.store, s.workspace, 'c'))!.status).toBe('online');
    s.reset();

    s.harness.clock.advance(10 * SECOND);
    await sweep(s.ports);

    for (const id of ['conn-a', 'conn-b', 'conn-d', 'conn-e']) {
      expect(s.gateway.changes(id).map((m) => [m.userId, m.status, m.reason])).toEqual([['c', 'offline', 'disconnect']]);
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

    const first = await deliverChanges(s.ports, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);

    expect(first).toEqual({ report: { posted: 4, gone: 0, failed: 0, opening: 1, dispatched: 3 }, retry: [] });
    const left = await s.harness.store.listConnections(s.workspace);
    expect(sorted(left.map((connection) => connection.connectionId))).toEqual(ALL);
    expect((await storedAgent(s.harness.store, s.workspace, 'e'))!.status).toBe('online');
    expect(s.harness.events.events).toHaveLength(1);

    // The same 410 from the oldest connection, conn-a, at exactly the window: gone.
    s.gateway.gone.add('conn-a');
    s.reset();
    const second = await deliverChanges(s.ports, [transition(s.workspace, 'b', s.harness.clock.now(), 2)]);
    expect(second).toEqual({ report: { posted: 3, gone: 1, failed: 0, opening: 1, dispatched: 3 }, retry: [] });
    const after = await s.harness.store.listConnections(s.workspace);
    expect(sorted(after.map((connection) => connection.connectionId))).toEqual(['conn-b', 'conn-c', 'conn-d', 'conn-e']);
    // a's disconnect, delivered as its own batch, meets conn-e's 410 again: opening again.
    expect(chunkOutcome(s.dispatcher)).toEqual({ gone: ['conn-a'], opening: 2 });
    for (const id of ['conn-b', 'conn-c', 'conn-d']) {
      expect(s.gateway.changes(id).map((m) => [m.userId, m.status, m.reason])).toEqual([
        ['b', 'away', 'manual'],
        ['a', 'offline', 'disconnect'],
      ]);
    }
    expect(s.harness.events.events.map((e) => [e.userId, e.status, e.reason])).toEqual([
      ['b', 'away', 'manual'],
      ['a', 'offline', 'disconnect'],
    ]);
  });
});

describe('the events of a large delivery', () => {
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

    const delivering = deliverChanges({ ...s.ports, fanout: slow }, [transition(s.workspace, 'a', s.harness.clock.now(), 2)]);
    while (started < 3) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));

    expect(s.harness.events.events.map((e) => [e.userId, e.reason])).toEqual([['a', 'manual']]);
    expect(s.gateway.posts).toEqual([]);
    release();
    expect((await delivering).report).toMatchObject({ posted: 5, dispatched: 3 });
    expect(s.harness.events.events).toHaveLength(1);
  });
});
