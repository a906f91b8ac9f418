import { describe, expect, it } from 'vitest';
import { ConnectionRateLimiter } from '#app/rate-limit.ts';

describe('per-connection message budgets', () => {
  it('allows the burst, then refuses, telling the connection at most once a second', () => {
    const limiter = new ConnectionRateLimiter({ burst: 5, perSecond: 1 });
    const t = 1_000_000;
    expect(Array.from({ length: 5 }, () => limiter.take('c1', 'heartbeat', t))).toEqual(Array(5).fill('allow'));
    expect(limiter.take('c1', 'heartbeat', t)).toBe('refuse');
    expect(limiter.take('c1', 'heartbeat', t + 500)).toBe('refuse-silently');
    expect(limiter.take('c1', 'heartbeat', t + 1000)).toBe('allow'); // 1 token regained
    expect(limiter.take('c1', 'heartbeat', t + 1001)).toBe('refuse');
  });

  it('charges by what an action costs and keeps connections apart', () => {
    const limiter = new ConnectionRateLimiter({ burst: 10, perSecond: 2 });
    const t = 0;
    expect(limiter.take('a', 'getPresence', t)).toBe('allow');
    expect(limiter.take('a', 'getPresence', t)).toBe('allow');
    expect(limiter.take('a', 'getPresence', t)).toBe('refuse');
    expect(limiter.take('b', 'setStatus', t)).toBe('allow');
    expect(limiter.take('b', 'setStatus', t)).toBe('allow');
    expect(limiter.take('b', 'setStatus', t)).toBe('refuse');
    expect(limiter.take('b', 'heartbeat', t)).toBe('allow');
    // Refills up to the burst, no further.
    expect(limiter.take('a', 'getPresence', t + 60_000)).toBe('allow');
    expect(limiter.take('a', 'getPresence', t + 60_000)).toBe('allow');
    expect(limiter.take('a', 'getPresence', t + 60_000)).toBe('refuse');
  });

  it('forgets closed connections and bounds what it remembers', () => {
    const limiter = new ConnectionRateLimiter({ burst: 1, perSecond: 0.01 });
    expect(limiter.take('a', 'heartbeat', 0)).toBe('allow');
    expect(limiter.take('a', 'heartbeat', 0)).toBe('refuse');
    limiter.forget('a');
    expect(limiter.take('a', 'heartbeat', 0)).toBe('allow');
    for (let i = 0; i < 10_001; i++) limiter.take(`c${i}`, 'heartbeat', 0);
    // 'a' was the oldest and has been forgotten: a fresh budget.
    expect(limiter.take('a', 'heartbeat', 0)).toBe('allow');
  });
});
