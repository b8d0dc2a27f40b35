import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { LogLimiter } from './log-limiter';

describe('LogLimiter', () => {
  it('lets N lines per key and window through, then one summary with the suppressed count', () => {
    const clock = new FakeClock();
    const summaries: [string, number][] = [];
    const limiter = new LogLimiter((key, n) => summaries.push([key, n]), {
      perWindow: 3,
      windowMs: 1_000,
      clock,
    });
    const allowed = Array.from({ length: 10 }, () => limiter.allow('retry'));
    expect(allowed).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(limiter.allow('transition')).toBe(true); // keys are counted apart
    expect(summaries).toEqual([]);
    // The summary comes when the window ends, even if nothing else is logged.
    clock.advance(1_000);
    expect(summaries).toEqual([['retry', 7]]);
    expect(limiter.allow('retry')).toBe(true);
  });

  it('keeps a 60 s outage under heavy load to a bounded number of lines', () => {
    const clock = new FakeClock();
    let lines = 0;
    const limiter = new LogLimiter(() => lines++, { perWindow: 5, windowMs: 10_000, clock });
    const keys = [
      'retry|connection',
      'tool_failed|connection',
      'tool_failed|circuit_open',
      'fallback|circuit_open',
    ];
    let offered = 0;
    // 2000 events a second for 60 s, spread over the keys.
    for (let ms = 0; ms < 60_000; ms += 10) {
      for (let i = 0; i < 20; i++) {
        offered++;
        if (limiter.allow(keys[i % keys.length] as string)) lines++;
      }
      clock.advance(10);
    }
    clock.advance(10_000);
    expect(offered).toBe(120_000);
    // Per key and 10 s window: 5 lines and one summary, so 4 keys × 6 windows × 6.
    expect(lines).toBeLessThanOrEqual(4 * 6 * 6);
    expect(lines).toBeGreaterThanOrEqual(4 * 6 * 5);
  });

  it('bounds the keys it tracks', () => {
    const clock = new FakeClock();
    const summaries: [string, number][] = [];
    const limiter = new LogLimiter((key, n) => summaries.push([key, n]), { maxKeys: 2, clock });
    expect(limiter.allow('a')).toBe(true);
    expect(limiter.allow('b')).toBe(true);
    expect(limiter.allow('c')).toBe(false);
    limiter.flush();
    expect(summaries).toEqual([['(keys)', 1]]);
  });
});
