/**
 * PresenceClient's roster rules against a fake socket (no server): batched changes applied in
 * order, repeats and older versions dropped, snapshot parts assembled before the roster is
 * replaced, changes outside the subscription ignored; away reasons and admins' changes (`by`)
 * carried on events, entries and the store, and `loggedOut` telling who signed the user out.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresenceClient, type PresenceEvent } from '../../client/src/index.ts';

/** A WebSocket stand-in the test drives: it opens at once and records what the client sends. */
class FakeSocket {
  static last: FakeSocket | undefined;
  /** False: the test opens each socket itself (`open()`). */
  static autoOpen = true;
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
    if (FakeSocket.autoOpen) queueMicrotask(() => this.open());
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

// A token whose `sub` is sam (the client reads it unverified).
const TOKEN = `x.${Buffer.from(JSON.stringify({ sub: 'sam' })).toString('base64url')}.y`;
const clients: PresenceClient[] = [];
afterEach(() => {
  FakeSocket.autoOpen = true;
  for (const client of clients.splice(0)) client.close();
});

async function open(scope?: string[]): Promise<{ client: PresenceClient; socket: FakeSocket; events: PresenceEvent[] }> {
  const client = new PresenceClient({ url: 'ws://fake/', token: () => TOKEN, WebSocket: FakeSocket, activity: 'manual', heartbeatIntervalMs: 60_000 });
  clients.push(client);
  const events: PresenceEvent[] = [];
  client.on('presence', (event) => events.push(event));
  if (scope) await client.subscribe(scope);
  const ready = client.connect();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const socket = FakeSocket.last!;
  socket.receive(snapshot('s1', 1, 1, [user('sam', 'online', 1, ['sales']), user('sally', 'online', 4, ['sales'])], scope ?? null));
  await ready;
  return { client, socket, events };
}

function user(userId: string, status: string, version: number, teams: string[] = []) {
  return { userId, name: userId, teams, status, since: 1000, lastActiveAt: 1000, version };
}

function snapshot(id: string, part: number, parts: number, users: object[], scope: string[] | null = null) {
  return { type: 'snapshot', id, part, parts, at: 1000, scope, users };
}

function change(userId: string, status: string, version: number, teams: string[] = ['sales']) {
  return { userId, name: userId, teams, status, previous: 'online', reason: 'manual', at: 2000 + version, version };
}

describe('PresenceClient roster', () => {
  it('applies a batch in order and drops a repeated or older change', async () => {
    const { client, socket, events } = await open();

    socket.receive({ type: 'presence', changes: [change('sally', 'away', 5), change('sally', 'online', 6)] });
    // The stream delivered the batch again (at least once), and an old change arrives late.
    socket.receive({ type: 'presence', changes: [change('sally', 'away', 5), change('sally', 'online', 6), change('sally', 'away', 3)] });

    expect(events.map((event) => `${event.userId}:${event.status}@${event.version}`)).toEqual(['sally:away@5', 'sally:online@6']);
    expect(client.roster.get('sally')).toMatchObject({ status: 'online', version: 6 });
  });

  it('a change the snapshot already holds (version up to its entry) is no news', async () => {
    const { client, socket, events } = await open();

    socket.receive({ type: 'presence', changes: [change('sally', 'away', 4)] });

    expect(events).toEqual([]);
    expect(client.roster.get('sally')?.status).toBe('online');
  });

  it('replaces the roster only when the last part of a snapshot is in', async () => {
    const { client, socket } = await open();
    const rosters: number[] = [];
    client.on('roster', (roster) => rosters.push(roster.size));

    socket.receive(snapshot('s2', 2, 3, [user('c', 'online', 1)]));
    socket.receive(snapshot('s2', 1, 3, [user('a', 'online', 1), user('b', 'online', 1)]));
    expect(rosters).toEqual([]);
    socket.receive(snapshot('s2', 3, 3, [user('sam', 'online', 1)]));

    expect(rosters).toEqual([4]);
    expect([...client.roster.keys()].sort()).toEqual(['a', 'b', 'c', 'sam']);
  });

  it('with a team subscription, ignores a change of someone outside it', async () => {
    const { client, socket, events } = await open(['sales']);

    socket.receive({ type: 'presence', changes: [change('carol', 'away', 2, ['support']), change('sally', 'away', 5, ['sales'])] });

    expect(events.map((event) => event.userId)).toEqual(['sally']);
    expect(client.roster.has('carol')).toBe(false);
  });

  it('asks for its subscription in the URL it connects with, so the first snapshot needs no subscribe', async () => {
    const { socket } = await open(['support', 'sales']);

    expect(new URL(socket.url).searchParams.get('teams')).toBe('sales,support');
    expect(socket.sent[0]).toEqual({ action: 'getPresence' });
  });

  it('connects without teams when following the whole workspace', async () => {
    const { socket } = await open();

    expect(new URL(socket.url).searchParams.has('teams')).toBe(false);
    expect(socket.sent[0]).toEqual({ action: 'getPresence' });
  });

  it('subscribes once open when the subscription changed after the URL was made', async () => {
    const client = new PresenceClient({ url: 'ws://fake/', token: () => TOKEN, WebSocket: FakeSocket, activity: 'manual', heartbeatIntervalMs: 60_000 });
    clients.push(client);
    await client.subscribe(['sales']);
    FakeSocket.autoOpen = false;
    const ready = client.connect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    // The socket exists (its URL asks for sales) and has not opened when the subscription changes.
    const socket = FakeSocket.last!;
    await client.subscribe(['support']);
    socket.open();
    socket.receive(snapshot('s1', 1, 1, [user('sam', 'online', 1, ['sales'])], ['support']));
    await ready;

    expect(new URL(socket.url).searchParams.get('teams')).toBe('sales');
    expect(socket.sent[0]).toEqual({ action: 'subscribe', teams: ['support'] });
  });

  it('keeps a user whose change arrived after the snapshot was asked for, though the snapshot (read just before their write landed) lacks them', async () => {
    // Prepare: a connection whose first snapshot is still to come.
    const client = new PresenceClient({ url: 'ws://fake/', token: () => TOKEN, WebSocket: FakeSocket, activity: 'manual', heartbeatIntervalMs: 60_000 });
    clients.push(client);
    const ready = client.connect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const socket = FakeSocket.last!;

    // Act: bob's connect (decided at 4000) is delivered, then the snapshot read at 5000, before his write was visible.
    socket.receive({ type: 'presence', changes: [{ ...change('bob', 'online', 1, []), reason: 'connect', at: 4000 }] });
    socket.receive({ ...snapshot('s1', 1, 1, [user('sam', 'online', 1)]), at: 5000 });
    await ready;

    // Assess
    expect([...client.roster.keys()].sort()).toEqual(['bob', 'sam']);
  });

  it('asks again when its first snapshot is refused (busy), and opens once one comes', async () => {
    // Prepare
    const client = new PresenceClient({
      url: 'ws://fake/',
      token: () => TOKEN,
      WebSocket: FakeSocket,
      activity: 'manual',
      heartbeatIntervalMs: 60_000,
      reconnect: { minDelayMs: 1, maxDelayMs: 5 },
    });
    clients.push(client);
    const errors: string[] = [];
    client.on('error', (error) => errors.push(error.code));
    const ready = client.connect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const socket = FakeSocket.last!;

    // Act: the server refuses the first getPresence.
    socket.receive({ type: 'error', code: 'internal', message: 'internal error' });
    while (socket.sent.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    socket.receive(snapshot('s1', 1, 1, [user('sam', 'online', 1)]));
    await ready;

    // Assess
    expect(socket.sent).toEqual([{ action: 'getPresence' }, { action: 'getPresence' }]);
    expect(errors).toEqual(['internal']);
    expect(client.connectionState).toBe('open');
  });
});

describe('PresenceClient store', () => {
  it('gives the same frozen snapshot until the roster or the connection state changes, and tells subscribers', async () => {
    const { client, socket } = await open();
    const calls: number[] = [];
    const unsubscribe = client.store.subscribe(() => calls.push(calls.length));
    const first = client.store.getSnapshot();
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.connection).toBe('open');
    expect(first.me).toMatchObject({ userId: 'sam', status: 'online' });
    expect(client.store.getSnapshot()).toBe(first);

    // A repeat (no news) changes nothing; a new version does.
    socket.receive({ type: 'presence', changes: [change('sally', 'online', 4)] });
    expect(client.store.getSnapshot()).toBe(first);
    expect(calls).toHaveLength(0);
    socket.receive({ type: 'presence', changes: [change('sally', 'away', 5)] });
    const second = client.store.getSnapshot();
    expect(second).not.toBe(first);
    expect(second.roster.get('sally')?.status).toBe('away');
    expect(first.roster.get('sally')?.status).toBe('online'); // the old value is untouched
    expect(calls).toHaveLength(1);

    socket.receive({ type: 'presence', changes: [change('sally', 'online', 6)] });
    expect(calls).toHaveLength(2);
    unsubscribe();
    client.close();
    expect(client.store.getSnapshot().connection).toBe('closed');
    expect(calls).toHaveLength(2);
  });
});

describe('PresenceClient logout', () => {
  it('while reconnecting: reconnects at once, logs out on the new connection, and never reconnects', async () => {
    const client = new PresenceClient({
      url: 'ws://fake/',
      token: () => TOKEN,
      WebSocket: FakeSocket,
      activity: 'manual',
      heartbeatIntervalMs: 60_000,
      // A backoff far longer than the test: only logout's own reconnect can open in time.
      reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000 },
      random: () => 0.99,
    });
    clients.push(client);
    const ready = client.connect();
    await new Promise((resolve) => setTimeout(resolve, 0));
    FakeSocket.last!.receive(snapshot('s1', 1, 1, [user('sam', 'online', 1)]));
    await ready;
    const dropped = FakeSocket.last!;
    dropped.readyState = 3;
    dropped.onclose?.({ code: 1006, reason: '' });
    expect(client.connectionState).toBe('reconnecting');

    const loggingOut = client.logout();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const fresh = FakeSocket.last!;
    expect(fresh).not.toBe(dropped);
    fresh.receive(snapshot('s2', 1, 1, [user('sam', 'online', 2)]));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(fresh.sent.at(-1)).toEqual({ action: 'logout' });
    fresh.receive({ type: 'loggedOut' });
    await loggingOut;
    expect(client.connectionState).toBe('closed');
    expect(FakeSocket.last).toBe(fresh);
  });

  it('when no connection comes within requestTimeoutMs: rejects with timeout, closes, and never reconnects', async () => {
    vi.useFakeTimers();
    try {
      FakeSocket.autoOpen = false;
      let tokens = 0;
      const client = new PresenceClient({
        url: 'ws://fake/',
        token: () => {
          tokens++;
          return TOKEN;
        },
        WebSocket: FakeSocket,
        activity: 'manual',
        requestTimeoutMs: 1000,
        reconnect: { minDelayMs: 10, maxDelayMs: 100 },
      });
      clients.push(client);
      const connecting = client.connect().catch((error: unknown) => error);
      const loggingOut = client.logout();
      const outcome = expect(loggingOut).rejects.toMatchObject({ code: 'timeout' });
      await vi.advanceTimersByTimeAsync(1000);
      await outcome;
      expect(await connecting).toMatchObject({ code: 'closed' });
      expect(client.connectionState).toBe('closed');
      const seen = tokens;
      await vi.advanceTimersByTimeAsync(60_000);
      expect(tokens).toBe(seen);
    } finally {
      vi.useRealTimers();
    }
  });

  it('on a closed client: rejects with not_connected and stays closed', async () => {
    const client = new PresenceClient({ url: 'ws://fake/', token: () => TOKEN, WebSocket: FakeSocket, activity: 'manual' });
    await expect(client.logout()).rejects.toMatchObject({ code: 'not_connected' });
    expect(client.connectionState).toBe('closed');
  });
});

describe('PresenceClient away reasons and admins', () => {
  /** The next turn of the event loop: a send after an awaited step has happened. */
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

  function own(status: string, version: number, fields: object = {}) {
    return { ...change('sam', status, version, ['sales']), ...fields };
  }

  it("sends setStatus('away', { reason }) as awayReason and resolves once the server published it", async () => {
    const { client, socket } = await open();

    const setting = client.setStatus('away', { reason: 'lunch' });
    expect(socket.sent.at(-1)).toEqual({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
    socket.receive({ type: 'presence', changes: [own('away', 2, { awayReason: 'lunch' })] });
    await setting;

    expect(client.me).toMatchObject({ status: 'away', awayReason: 'lunch', version: 2 });
    expect(client.store.getSnapshot().me?.awayReason).toBe('lunch');
  });

  it('changing only the reason waits for the away -> away change, which updates the roster entry', async () => {
    const { client, socket, events } = await open();
    socket.receive({ type: 'presence', changes: [own('away', 2, { awayReason: 'lunch' })] });

    let settled = false;
    const setting = client.setStatus('away', { reason: 'meeting' }).then(() => (settled = true));
    await tick();
    expect(socket.sent.at(-1)).toEqual({ action: 'setStatus', status: 'away', awayReason: 'meeting' });
    // Not yet: the roster still holds lunch.
    expect(settled).toBe(false);
    socket.receive({ type: 'presence', changes: [{ ...own('away', 3, { awayReason: 'meeting' }), previous: 'away' }] });
    await setting;

    expect(client.me).toMatchObject({ status: 'away', awayReason: 'meeting', version: 3 });
    expect(events.at(-1)).toMatchObject({ status: 'away', previous: 'away', reason: 'manual', awayReason: 'meeting' });

    // Away with no reason clears it: again a change to wait for, and the entry has no reason left.
    const clearing = client.setStatus('away');
    expect(socket.sent.at(-1)).toEqual({ action: 'setStatus', status: 'away' });
    socket.receive({ type: 'presence', changes: [{ ...own('away', 4), previous: 'away' }] });
    await clearing;
    expect(client.me).not.toHaveProperty('awayReason');
  });

  it('resolves at once when that status and reason are already in effect', async () => {
    const { client, socket } = await open();
    socket.receive({ type: 'presence', changes: [own('away', 2, { awayReason: 'lunch' })] });

    await client.setStatus('away', { reason: 'lunch' });

    expect(socket.sent.at(-1)).toEqual({ action: 'setStatus', status: 'away', awayReason: 'lunch' });
  });

  it('refuses a reason with online, or one that is not an id, without sending anything', async () => {
    const { client, socket } = await open();
    const sent = socket.sent.length;

    await expect(client.setStatus('online', { reason: 'lunch' })).rejects.toMatchObject({ name: 'PresenceClientError', code: 'invalid_message' });
    await expect(client.setStatus('away', { reason: 'out to lunch' })).rejects.toMatchObject({ code: 'invalid_message' });
    expect(socket.sent).toHaveLength(sent);
  });

  it("rejects with the server's invalid_message for a reason the workspace does not have", async () => {
    const { client, socket } = await open();

    const setting = client.setStatus('away', { reason: 'gym' });
    socket.receive({ type: 'error', code: 'invalid_message', message: 'awayReason "gym" is not one of this workspace\'s away reasons' });

    await expect(setting).rejects.toMatchObject({ code: 'invalid_message', message: expect.stringContaining('gym') });
    expect(client.me?.status).toBe('online');
  });

  it("exposes an admin's change (by, awayReason) on the event, the roster and the store, until a later change says otherwise", async () => {
    const { client, socket, events } = await open();

    socket.receive({ type: 'presence', changes: [{ ...change('sally', 'away', 5), reason: 'admin', awayReason: 'meeting', by: 'dana' }] });

    expect(events.at(-1)).toMatchObject({ userId: 'sally', reason: 'admin', awayReason: 'meeting', by: 'dana' });
    expect(client.roster.get('sally')).toMatchObject({ status: 'away', awayReason: 'meeting', by: 'dana' });
    expect(client.store.getSnapshot().roster.get('sally')).toMatchObject({ awayReason: 'meeting', by: 'dana' });
    // Not the agent's activity: lastActiveAt stays what it was.
    expect(client.roster.get('sally')?.lastActiveAt).toBe(1000);

    socket.receive({ type: 'presence', changes: [{ ...change('sally', 'online', 6), previous: 'away' }] });
    expect(client.roster.get('sally')).not.toHaveProperty('by');
    expect(client.roster.get('sally')).not.toHaveProperty('awayReason');
  });

  it('keeps awayReason and by from snapshot entries', async () => {
    const { client, socket } = await open();

    socket.receive(snapshot('s2', 1, 1, [user('sam', 'online', 2), { ...user('sally', 'away', 7), awayReason: 'lunch', by: 'dana' }]));

    expect(client.roster.get('sally')).toMatchObject({ status: 'away', awayReason: 'lunch', by: 'dana', version: 7 });
  });

  it('tells who signed the user out with the loggedOut event, then closes for good', async () => {
    const { client, socket } = await open();
    const heard: Array<{ at: number; by?: string; state: string }> = [];
    client.on('loggedOut', (event) => heard.push({ at: event.at, ...(event.by !== undefined ? { by: event.by } : {}), state: client.connectionState }));

    socket.receive({ type: 'presence', changes: [{ ...own('offline', 2), reason: 'logout', by: 'dana' }] });
    socket.receive({ type: 'loggedOut', at: 3000, by: 'dana' });

    // Heard while the client was still open: a UI can say who before it shows the closed state.
    expect(heard).toEqual([{ at: 3000, by: 'dana', state: 'open' }]);
    expect(client.connectionState).toBe('closed');
    expect(client.roster.get('sam')).toMatchObject({ status: 'offline', by: 'dana' });
  });

  it('a logout of the user themself has no by', async () => {
    const { client, socket } = await open();
    const heard: object[] = [];
    client.on('loggedOut', (event) => heard.push(event));

    socket.receive({ type: 'loggedOut', at: 3000 });

    expect(heard).toEqual([{ type: 'loggedOut', at: 3000 }]);
  });
});
