/**
 * The client's connections (client/src/transport.ts) against fake sockets and fake timers: the
 * URL a connection opens with, reconnects with backoff after a close or a failed or unanswered
 * token, the connection cap's longest backoff, promotion and the handover before the connection
 * lifetime (and its retry when it fails), renewal when a token ends, wake, and stop.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PresenceClientError } from '../../client/src/errors.ts';
import type { ServerMessage } from '../../client/src/protocol.ts';
import { backoffDelay, type Link, type LinkHandler, Transport, type TransportOptions } from '../../client/src/transport.ts';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  closedWith: number | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(): void {}
  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** The server or the network closed it. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const TOKEN = `x.${Buffer.from(JSON.stringify({ sub: 'sam' })).toString('base64url')}.y`;

interface Heard {
  transport: Transport;
  events: string[];
  errors: PresenceClientError[];
  opened: Link[];
  messages: ServerMessage[];
  subjects: Array<string | undefined>;
}

function make(options: Partial<TransportOptions> = {}, scope: readonly string[] | null = null): Heard {
  const heard: Omit<Heard, 'transport'> = { events: [], errors: [], opened: [], messages: [], subjects: [] };
  const handler: LinkHandler = {
    onSubject: (userId) => heard.subjects.push(userId),
    scope: () => scope,
    onOpen: (link) => heard.opened.push(link),
    onMessage: (_link, message) => heard.messages.push(message),
    onReconnecting: () => heard.events.push('reconnecting'),
    report: (error) => {
      heard.errors.push(error);
      heard.events.push(error.code);
    },
  };
  const transport = new Transport(
    { url: 'ws://fake/', token: () => TOKEN, WebSocket: FakeSocket, minDelayMs: 100, maxDelayMs: 1000, maxConnectionAgeMs: 60_000, requestTimeoutMs: 5_000, random: () => 0.5, ...options },
    handler,
  );
  return { transport, ...heard };
}

/** Starts the transport and lets its first socket be made. */
async function started(heard: Heard): Promise<FakeSocket> {
  heard.transport.begin();
  void heard.transport.open();
  await vi.advanceTimersByTimeAsync(0);
  return FakeSocket.all.at(-1)!;
}

/** The socket opens and its link is promoted (the client does it once its snapshot is in). */
function promoted(heard: Heard, socket: FakeSocket): Link {
  socket.open();
  const link = heard.opened.at(-1)!;
  heard.transport.promote(link);
  return link;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('backoffDelay', () => {
  it('is full jitter below min * 2^attempt, capped at max', () => {
    expect(backoffDelay(0, 100, 1000, () => 0.5)).toBe(50);
    expect(backoffDelay(2, 100, 1000, () => 0.5)).toBe(200);
    expect(backoffDelay(10, 100, 1000, () => 0.999)).toBe(999);
    expect(backoffDelay(1000, 100, 1000, () => 0)).toBe(0);
  });
});

describe('Transport', () => {
  it('opens with the token and the subscription in the URL, tells the user, and passes on the messages it knows', async () => {
    const heard = make({ url: 'ws://fake/?stage=x' }, ['sales', 'support']);
    const socket = await started(heard);

    expect(socket.url).toBe(`ws://fake/?stage=x&token=${encodeURIComponent(TOKEN)}&teams=${encodeURIComponent('sales,support')}`);
    expect(heard.subjects).toEqual(['sam']);
    expect(heard.transport.incoming?.socket).toBe(socket);
    socket.open();
    expect(heard.opened).toHaveLength(1);
    expect(heard.opened[0]).toMatchObject({ opened: true, synced: false, scope: ['sales', 'support'] });
    socket.onmessage?.({ data: JSON.stringify({ type: 'loggedOut', at: 1 }) });
    socket.onmessage?.({ data: '{"type":"unknown"}' });
    socket.onmessage?.({ data: 'not json' });
    expect(heard.messages).toEqual([{ type: 'loggedOut', at: 1 }]);
  });

  it('a token that is not a JWT tells no user', async () => {
    const heard = make({ token: () => 'opaque' });
    const socket = await started(heard);

    expect(new URL(socket.url).searchParams.get('token')).toBe('opaque');
    expect(new URL(socket.url).searchParams.has('teams')).toBe(false);
    expect(heard.subjects).toEqual([undefined]);
  });

  it('promote() makes the link current and drops the one it replaces', async () => {
    const heard = make();
    const first = promoted(heard, await started(heard));
    expect(heard.transport.current).toBe(first);
    expect(heard.transport.incoming).toBeUndefined();
    expect(first.synced).toBe(true);

    void heard.transport.open(true);
    await vi.advanceTimersByTimeAsync(0);
    const second = promoted(heard, FakeSocket.all.at(-1)!);

    expect(heard.transport.current).toBe(second);
    expect((first.socket as unknown as FakeSocket).closedWith).toBe(1000);
    expect(first.socket.onclose).toBeNull();
  });

  it('after a close, reports it, says reconnecting and opens again after a backoff that grows', async () => {
    const heard = make();
    promoted(heard, await started(heard));

    FakeSocket.all[0]!.drop(1006, 'gone');
    expect(heard.events).toEqual(['connection_failed', 'reconnecting']);
    expect(heard.errors[0]?.message).toBe('the connection closed (1006: gone)');
    expect(heard.transport.current).toBeUndefined();
    await vi.advanceTimersByTimeAsync(49);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);

    // Refused before it opened: the next delay is twice as long (0.5 * 200).
    FakeSocket.all[1]!.drop();
    expect(heard.errors[1]?.message).toBe('the connection could not be opened (refused or unreachable)');
    await vi.advanceTimersByTimeAsync(99);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(3);
  });

  it('a refusal at the connection cap (429) says too_many_connections and waits the longest backoff', async () => {
    const heard = make();
    const socket = await started(heard);

    socket.onerror?.({ message: 'Unexpected server response: 429' });
    socket.drop();

    expect(heard.events).toEqual(['too_many_connections', 'reconnecting']);
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('a failed token is reported and retried after a backoff', async () => {
    let calls = 0;
    const heard = make({
      token: () => {
        if (calls++ === 0) throw new Error('no token');
        return TOKEN;
      },
    });
    heard.transport.begin();
    await heard.transport.open();

    expect(heard.events).toEqual(['token_failed']);
    expect(heard.errors[0]?.cause).toMatchObject({ message: 'no token' });
    expect(FakeSocket.all).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(50);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('a token callback that never answers is token_failed after requestTimeoutMs and retried; its late answer opens nothing', async () => {
    const hanging: Array<(token: string) => void> = [];
    let calls = 0;
    const heard = make({ token: () => (calls++ === 0 ? new Promise<string>((resolve) => hanging.push(resolve)) : TOKEN) });
    heard.transport.begin();
    void heard.transport.open();

    await vi.advanceTimersByTimeAsync(4_999);
    expect(heard.events).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(heard.events).toEqual(['token_failed']);
    expect(heard.errors[0]?.message).toBe('the token callback did not answer within 5000 ms');
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toBe(2);
    expect(FakeSocket.all).toHaveLength(1);

    hanging[0]!('late-token');
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakeSocket.all[0]!.url).not.toContain('late-token');
  });

  it('a renewal whose token callback never answers does not block the next renewal', async () => {
    let calls = 0;
    const heard = make({ token: () => (calls++ === 1 ? new Promise<string>(() => {}) : TOKEN) });
    const first = promoted(heard, await started(heard));

    heard.transport.renew(first);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(heard.events).toEqual(['token_failed']);
    expect(heard.transport.current).toBe(first);
    heard.transport.renew(first);
    await vi.advanceTimersByTimeAsync(0);

    expect(calls).toBe(3);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('a WebSocket that cannot be made is connection_failed, retried after a backoff', async () => {
    let made = 0;
    const heard = make({
      WebSocket: class {
        constructor() {
          if (made++ === 0) throw new Error('bad url');
        }
      },
    });
    heard.transport.begin();
    await heard.transport.open();

    expect(heard.events).toEqual(['connection_failed']);
    await vi.advanceTimersByTimeAsync(50);
    expect(made).toBe(2);
  });

  it('hands over after the connection lifetime: a new link opens while the old one works, with nothing reported', async () => {
    const heard = make();
    const first = promoted(heard, await started(heard));

    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(heard.transport.current).toBe(first);
    const second = promoted(heard, FakeSocket.all[1]!);

    expect(heard.transport.current).toBe(second);
    expect(heard.events).toEqual([]);
  });

  it('a failed handover is tried again after a backoff, while the current link keeps working', async () => {
    const heard = make();
    const first = promoted(heard, await started(heard));
    await vi.advanceTimersByTimeAsync(60_000);

    FakeSocket.all[1]!.drop();
    expect(heard.events).toEqual([]);
    expect(heard.transport.current).toBe(first);
    await vi.advanceTimersByTimeAsync(50);

    expect(FakeSocket.all).toHaveLength(3);
  });

  it('when the current link closes while a new one is opening, that one takes over: no reconnecting', async () => {
    const heard = make();
    promoted(heard, await started(heard));
    await vi.advanceTimersByTimeAsync(60_000);

    FakeSocket.all[0]!.drop(1001);

    expect(heard.events).toEqual([]);
    expect(heard.transport.current).toBeUndefined();
    promoted(heard, FakeSocket.all[1]!);
    expect(heard.transport.current?.socket).toBe(FakeSocket.all[1]);
  });

  it('renew() opens a new link for the current one, once, and not for a link that is not current', async () => {
    const heard = make();
    const first = promoted(heard, await started(heard));

    heard.transport.renew(first);
    heard.transport.renew(first); // the token is still being fetched
    await vi.advanceTimersByTimeAsync(0);
    heard.transport.renew(first); // a new link is opening
    heard.transport.renew(heard.transport.incoming!);

    expect(FakeSocket.all).toHaveLength(2);
  });

  it('the connection lifetime ending while a renewal still fetches its token opens no second link', async () => {
    const tokens: Array<(token: string) => void> = [];
    let calls = 0;
    const heard = make({ token: () => (calls++ === 0 ? TOKEN : new Promise<string>((resolve) => tokens.push(resolve))) });
    const first = promoted(heard, await started(heard));
    await vi.advanceTimersByTimeAsync(59_000);

    heard.transport.renew(first);
    await vi.advanceTimersByTimeAsync(1_000); // the lifetime ends: the handover finds the renewal under way
    expect(tokens).toHaveLength(1);
    tokens[0]!(TOKEN);
    await vi.advanceTimersByTimeAsync(0);

    expect(FakeSocket.all).toHaveLength(2);
  });

  it('a handover put off by a renewal that then fails still happens, after a backoff', async () => {
    const fetches: Array<{ resolve: (token: string) => void; reject: (error: Error) => void }> = [];
    let calls = 0;
    const heard = make({
      token: () => (calls++ === 0 ? TOKEN : new Promise<string>((resolve, reject) => fetches.push({ resolve, reject }))),
    });
    const first = promoted(heard, await started(heard));
    await vi.advanceTimersByTimeAsync(59_000);
    heard.transport.renew(first);
    await vi.advanceTimersByTimeAsync(1_000); // the lifetime ends while the renewal's token is awaited

    fetches[0]!.reject(new Error('token service down'));
    await vi.advanceTimersByTimeAsync(0);
    expect(heard.events).toEqual(['token_failed']);
    expect(heard.transport.current).toBe(first);
    await vi.advanceTimersByTimeAsync(1_000);

    expect(fetches).toHaveLength(2);
    fetches[1]!.resolve(TOKEN);
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('wake() reconnects at once while waiting out a backoff, and does nothing otherwise', async () => {
    const heard = make({ random: () => 0.99 });
    promoted(heard, await started(heard));
    heard.transport.wake();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.all).toHaveLength(1);

    FakeSocket.all[0]!.drop();
    heard.transport.wake();
    await vi.advanceTimersByTimeAsync(0);

    expect(FakeSocket.all).toHaveLength(2);
  });

  it('stop() closes every link and nothing reconnects; begin() allows opening again', async () => {
    const heard = make();
    promoted(heard, await started(heard));
    await vi.advanceTimersByTimeAsync(60_000);

    heard.transport.stop();

    expect(heard.transport.stopped).toBe(true);
    expect(heard.transport.current).toBeUndefined();
    expect(heard.transport.incoming).toBeUndefined();
    expect(FakeSocket.all.map((socket) => socket.closedWith)).toEqual([1000, 1000]);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(heard.events).toEqual([]);

    await started(heard);
    expect(FakeSocket.all).toHaveLength(3);
  });

  it('a token that arrives after stop() opens nothing', async () => {
    let give: (token: string) => void = () => {};
    const heard = make({ token: () => new Promise<string>((resolve) => (give = resolve)) });
    heard.transport.begin();
    const opening = heard.transport.open();

    heard.transport.stop();
    give(TOKEN);
    await opening;

    expect(FakeSocket.all).toHaveLength(0);
    expect(heard.subjects).toEqual([]);
  });
});
