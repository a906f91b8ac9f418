/** The client's options (client/src/options.ts): their defaults, and a client with no WebSocket to use. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PresenceClientError } from '../../client/src/errors.ts';
import { resolveOptions } from '../../client/src/options.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('resolveOptions', () => {
  class FakeSocket {}
  const token = () => 't';

  it('fills in the defaults', () => {
    expect(resolveOptions({ url: 'ws://x', token, WebSocket: FakeSocket })).toEqual({
      url: 'ws://x',
      token,
      WebSocket: FakeSocket,
      heartbeatIntervalMs: 30_000,
      activity: 'auto',
      minDelayMs: 500,
      maxDelayMs: 30_000,
      maxConnectionAgeMs: 110 * 60_000,
      requestTimeoutMs: 10_000,
      random: Math.random,
    });
  });

  it('keeps what is given', () => {
    const random = () => 0;
    const options = {
      url: 'ws://x',
      token,
      WebSocket: FakeSocket,
      heartbeatIntervalMs: 1,
      activity: 'manual' as const,
      reconnect: { minDelayMs: 2, maxDelayMs: 3 },
      maxConnectionAgeMs: 4,
      requestTimeoutMs: 5,
      random,
    };

    expect(resolveOptions(options)).toEqual({ ...options, reconnect: undefined, minDelayMs: 2, maxDelayMs: 3 });
  });

  it('takes the global WebSocket, and without one throws not_connected', () => {
    vi.stubGlobal('WebSocket', FakeSocket);
    expect(resolveOptions({ url: 'ws://x', token }).WebSocket).toBe(FakeSocket);

    vi.stubGlobal('WebSocket', undefined);
    expect(() => resolveOptions({ url: 'ws://x', token })).toThrow(PresenceClientError);
    expect(() => resolveOptions({ url: 'ws://x', token })).toThrow(expect.objectContaining({ name: 'PresenceClientError', code: 'not_connected' }));
  });
});
