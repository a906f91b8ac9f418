/** The Reports view's helpers: totals per agent over the days, durations, the week's last day. */
import { describe, expect, it } from 'vitest';
import { duration, periodEnd, totalsByAgent } from '#local/page/reports.ts';

describe('Reports view helpers', () => {
  it('sums each agent over the days and sorts by name', () => {
    const row = (date: string, userId: string, name: string, online: number) => ({ date, userId, name, online, away: 0, offline: 86_400 - online, awayByReason: { '': 0 } });
    expect(totalsByAgent([row('2026-11-25', 'z', 'Zoe', 3600), row('2026-11-25', 'a', 'Adam', 0), row('2026-11-26', 'z', 'Zoe', 7200)])).toEqual([
      { userId: 'a', name: 'Adam', online: 0, away: 0, offline: 86_400 },
      { userId: 'z', name: 'Zoe', online: 10_800, away: 0, offline: 162_000 },
    ]);
  });

  it('writes durations as hours and minutes, seconds under a minute', () => {
    expect([duration(0), duration(59), duration(60), duration(3599), duration(3600), duration(90_000)]).toEqual(['0s', '59s', '1m', '59m', '1h 00m', '25h 00m']);
  });

  it('ends a week six days after its first, across months and leap days', () => {
    expect(periodEnd('2026-11-25', 'day')).toBe('2026-11-25');
    expect(periodEnd('2026-11-25', 'week')).toBe('2026-12-01');
    expect(periodEnd('2028-02-25', 'week')).toBe('2028-03-02');
  });
});
