/** The pure rules of subscriptions (domain/scope.ts) and snapshot parts (domain/snapshot-parts.ts). */
import { describe, expect, it } from 'vitest';
import { inScope, normalizeScope } from '#domain/scope.ts';
import { splitIntoParts } from '#domain/snapshot-parts.ts';

describe('inScope', () => {
  const carol = { userId: 'carol', teams: ['support', 'billing'] };

  it('the whole workspace (null) covers everyone', () => {
    expect(inScope(null, 'sam', carol)).toBe(true);
  });

  it('a team scope covers members of any of its teams', () => {
    expect(inScope(['billing'], 'sam', carol)).toBe(true);
    expect(inScope(['sales'], 'sam', carol)).toBe(false);
  });

  it('the viewer is always in their own scope, teams or not', () => {
    expect(inScope(['sales'], 'carol', carol)).toBe(true);
    expect(inScope(['sales'], 'carol', { userId: 'carol', teams: [] })).toBe(true);
  });
});

describe('normalizeScope', () => {
  it('dedupes and sorts team ids; null stays null', () => {
    expect(normalizeScope(['support', 'sales', 'support'])).toEqual(['sales', 'support']);
    expect(normalizeScope(null)).toBeNull();
  });
});

describe('splitIntoParts', () => {
  const entry = (i: number) => ({ userId: `u${i}`, name: 'x'.repeat(90) });

  it('keeps every entry, in order, and each part within the byte budget', () => {
    const entries = Array.from({ length: 500 }, (_, i) => entry(i));
    const parts = splitIntoParts(entries, 4096);
    expect(parts.flat()).toEqual(entries);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(Buffer.byteLength(JSON.stringify(part))).toBeLessThanOrEqual(4096 + 2);
  });

  it('measures UTF-8 bytes, not characters', () => {
    const wide = Array.from({ length: 10 }, (_, i) => ({ userId: `u${i}`, name: '€'.repeat(100) }));
    // Each entry is about 330 bytes but about 130 characters: three fit in 1,000 bytes, not seven.
    expect(splitIntoParts(wide, 1000)[0]).toHaveLength(3);
  });

  it('gives an entry larger than the budget a part of its own', () => {
    const parts = splitIntoParts([entry(1), { userId: 'big', name: 'y'.repeat(5000) }, entry(2)], 1000);
    expect(parts.map((part) => part.map((e) => e.userId))).toEqual([['u1'], ['big'], ['u2']]);
  });

  it('an empty roster is one empty part, so a client still gets an answer', () => {
    expect(splitIntoParts([])).toEqual([[]]);
  });
});
