import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { DependencyStats } from './dependency-stats';

describe('DependencyStats', () => {
  it('counts requests and errors, and finds p95, over the recent window only', () => {
    const clock = new FakeClock();
    const stats = new DependencyStats({ windowMs: 60_000, buckets: 12, clock });
    expect(stats.snapshot()).toEqual({ window_s: 60, requests: 0, errors: 0, error_rate: 0, p95_ms: null });
    // 100 calls: 90 fast (4 ms), 10 slow (400 ms) of which 5 failed.
    for (let i = 0; i < 90; i++) stats.record(4, true);
    for (let i = 0; i < 10; i++) stats.record(400, i >= 5);
    const s = stats.snapshot();
    expect(s).toMatchObject({ requests: 100, errors: 5, error_rate: 0.05 });
    // The 95th call is a slow one: its bin's bound (500), capped by the slowest seen (400).
    expect(s.p95_ms).toBe(400);
    for (let i = 0; i < 900; i++) stats.record(4, true);
    expect(stats.snapshot().p95_ms).toBe(5);
    // Slices leave the window as time passes.
    clock.advance(30_000);
    stats.record(20, false);
    expect(stats.snapshot()).toMatchObject({ requests: 1001, errors: 6 });
    clock.advance(35_000);
    expect(stats.snapshot()).toMatchObject({ requests: 1, errors: 1, error_rate: 1, p95_ms: 20 });
    clock.advance(60_000);
    expect(stats.snapshot()).toMatchObject({ requests: 0, p95_ms: null });
  });

  it('feeds on call events', () => {
    const stats = new DependencyStats({ clock: new FakeClock() });
    const listen = stats.listener();
    listen({ type: 'call', outcome: 'success', code: undefined, durationMs: 12 });
    listen({ type: 'call', outcome: 'failure', code: 'timeout', durationMs: 3000 });
    listen({ type: 'retry', attempt: 1, delayMs: 10, reason: 'timeout' });
    expect(stats.snapshot()).toMatchObject({ requests: 2, errors: 1, error_rate: 0.5 });
  });
});
