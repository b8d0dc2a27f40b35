import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, type Jitter } from './backoff';

describe('backoffDelay', () => {
  it('stays within [0, cap] for every jitter kind and attempt', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Jitter>('full', 'equal', 'decorrelated', 'none'),
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        (jitter, attempt, base, cap, r, previous) => {
          const d = backoffDelay({ baseDelayMs: base, maxDelayMs: cap, jitter }, attempt, previous, () => r);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(cap);
          expect(Number.isFinite(d)).toBe(true);
        },
      ),
    );
  });

  it('doubles up to the cap without jitter', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' as const };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(o, a, 0, Math.random))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
  });

  it('decorrelated jitter grows from the previous delay', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 10_000, jitter: 'decorrelated' as const };
    expect(backoffDelay(o, 1, 0, () => 0.999)).toBe(300);
    expect(backoffDelay(o, 2, 300, () => 0.999)).toBe(899);
    expect(backoffDelay(o, 3, 900, () => 0)).toBe(100);
  });
});

describe('backoff multiplier', () => {
  it('grows by the multiplier per attempt, up to the cap', () => {
    const opts = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' as const, multiplier: 1.5 };
    expect([1, 2, 3, 4, 10].map((a) => backoffDelay(opts, a, 0, () => 0.5))).toEqual([
      100, 150, 225, 337.5, 1_000,
    ]);
    expect(backoffDelay({ ...opts, multiplier: undefined }, 3, 0, () => 0.5)).toBe(400);
  });
});
