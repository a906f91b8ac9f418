/** The report's day arithmetic: local dates and midnights across DST, rollup updates, seconds that add up. */
import { describe, expect, it } from 'vitest';
import { applyToDay, dayMs, dayStart, localDate, nextDate, wholeReasonSeconds, wholeSeconds } from '#domain/report.ts';

const H = 3_600_000;

describe('days in a zone', () => {
  it('bounds days by local midnights: 23 hours when clocks go forward, 25 when they go back', () => {
    const length = (date: string, zone: string) => (dayStart(nextDate(date), zone) - dayStart(date, zone)) / H;
    expect(length('2026-03-29', 'Europe/Madrid')).toBe(23);
    expect(length('2026-10-25', 'Europe/Madrid')).toBe(25);
    expect(length('2026-10-26', 'Europe/Madrid')).toBe(24);
    expect(length('2026-11-01', 'America/New_York')).toBe(25);
    expect(length('2026-10-25', 'UTC')).toBe(24);
    expect(dayStart('2026-10-25', 'Europe/Madrid')).toBe(Date.UTC(2026, 9, 24, 22));
    expect(dayStart('2026-10-26', 'Europe/Madrid')).toBe(Date.UTC(2026, 9, 25, 23));
  });

  it('dates an instant in the zone, not in UTC', () => {
    expect(localDate(Date.UTC(2026, 9, 24, 22, 30), 'Europe/Madrid')).toBe('2026-10-25');
    expect(localDate(Date.UTC(2026, 9, 24, 22, 30), 'UTC')).toBe('2026-10-24');
    expect(localDate(Date.UTC(2026, 9, 25, 3, 0), 'America/Los_Angeles')).toBe('2026-10-24');
    expect(nextDate('2028-02-28')).toBe('2028-02-29');
    expect(nextDate('2026-12-31')).toBe('2027-01-01');
  });
});

describe('a day rollup', () => {
  const start = Date.UTC(2026, 10, 25);
  it('closes the time since midnight at the first transition, since the previous one after that, and ignores a repeat', () => {
    const first = applyToDay(undefined, '2026-11-25', start, { at: start + 9 * H, previous: 'offline', status: 'online', version: 7 })!;
    expect(first).toEqual({ date: '2026-11-25', ms: { online: 0, away: 0, offline: 9 * H }, awayMs: {}, lastAt: start + 9 * H, lastStatus: 'online', lastAwayReason: '', lastVersion: 7 });
    const second = applyToDay(first, '2026-11-25', start, { at: start + 12 * H, previous: 'online', status: 'away', version: 8 })!;
    expect(second.ms).toEqual({ online: 3 * H, away: 0, offline: 9 * H });
    expect(applyToDay(second, '2026-11-25', start, { at: start + 12 * H, previous: 'online', status: 'away', version: 8 })).toBeUndefined();
    // The rest of the day is in the status since the last transition.
    expect(dayMs(second, start, start + 24 * H, 'offline')).toEqual({ ms: { online: 3 * H, away: 12 * H, offline: 9 * H }, awayMs: { '': 12 * H } });
    // A day without transitions is wholly in the status carried into it.
    expect(dayMs(undefined, start, start + 24 * H, 'away', 'lunch')).toEqual({ ms: { online: 0, away: 24 * H, offline: 0 }, awayMs: { lunch: 24 * H } });
  });

  it('splits away time by reason: the reason carried in, a change of reason alone, and whole seconds that add up to the away time', () => {
    // Away for lunch since before midnight; at 01:00 the reason becomes a meeting; online at 01:30; away with no reason at 02:00.
    const a = applyToDay(undefined, '2026-11-25', start, { at: start + H, previous: 'away', previousAwayReason: 'lunch', status: 'away', awayReason: 'meeting', version: 2 })!;
    const b = applyToDay(a, '2026-11-25', start, { at: start + 1.5 * H, previous: 'away', previousAwayReason: 'meeting', status: 'online', version: 3 })!;
    const c = applyToDay(b, '2026-11-25', start, { at: start + 2 * H, previous: 'online', status: 'away', version: 4 })!;
    const { ms, awayMs } = dayMs(c, start, start + 24 * H, 'offline');
    expect(ms).toEqual({ online: 0.5 * H, away: 23.5 * H, offline: 0 });
    expect(awayMs).toEqual({ lunch: H, meeting: 0.5 * H, '': 22 * H });
    const seconds = wholeSeconds(ms, 86_400);
    expect(wholeReasonSeconds(awayMs, seconds.away, ['meeting', 'break', 'lunch'])).toEqual({ meeting: 1800, break: 0, lunch: 3600, '': 79_200 });
    // Thirds of a second: the rounding goes to the largest remainders, and the parts still add up.
    const thirds = wholeReasonSeconds({ a: 1000, b: 1000, c: 1000 }, 2, []);
    expect(Object.values(thirds).reduce((x, y) => x + y, 0)).toBe(2);
  });

  it('rounds to whole seconds that add up to the day exactly', () => {
    const seconds = wholeSeconds({ online: 1_500.4, away: 1_500.4, offline: 86_400_000 - 3_000.8 }, 86_400);
    expect(seconds.online + seconds.away + seconds.offline).toBe(86_400);
    expect(wholeSeconds({ online: 0, away: 0, offline: 0 }, 0)).toEqual({ online: 0, away: 0, offline: 0 });
  });
});
