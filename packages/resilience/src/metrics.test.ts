import type { ErrorCode } from '@cortex/errors';
import { CortexError } from '@cortex/errors';
import { capture, FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { Listener, ResilienceEvent } from './events';
import { Emitter } from './events';
import { metricsListener } from './metrics';
import { createServicePolicy } from './policy-for-service';

interface MetricsSnapshot {
  requests: { success: number; failure: number };
  errors: Partial<Record<ErrorCode, number>>;
  retries: Partial<Record<ErrorCode, number>>;
  breakerState: 0 | 1 | 2;
  latency: { count: number; sumMs: number; maxMs: number };
}

/** An in-memory sink over `metricsListener`. */
function createMetricsCollector(): {
  listener: Listener<ResilienceEvent>;
  snapshot(): MetricsSnapshot;
} {
  const s: MetricsSnapshot = {
    requests: { success: 0, failure: 0 },
    errors: {},
    retries: {},
    breakerState: 0,
    latency: { count: 0, sumMs: 0, maxMs: 0 },
  };
  const listener = metricsListener({
    request(outcome, durationMs) {
      s.requests[outcome]++;
      s.latency.count++;
      s.latency.sumMs += durationMs;
      s.latency.maxMs = Math.max(s.latency.maxMs, durationMs);
    },
    error(code) {
      s.errors[code] = (s.errors[code] ?? 0) + 1;
    },
    retry(reason) {
      s.retries[reason] = (s.retries[reason] ?? 0) + 1;
    },
    breakerState(value) {
      s.breakerState = value;
    },
  });
  return { listener, snapshot: () => structuredClone(s) };
}

describe('metrics from the event stream', () => {
  it('counts requests, errors by code, retries by reason, breaker state and latency', async () => {
    const clock = new FakeClock();
    const metrics = createMetricsCollector();
    const policy = createServicePolicy(
      {
        retry: { maxRetries: 1, budget: { enabled: false } },
        breaker: { failureThreshold: 2, openMs: 1_000 },
      },
      { clock, onEvent: metrics.listener, random: () => 0 },
    );
    await policy.execute(async () => {
      clock.advance(30);
      return 1;
    });
    const fail = capture(
      policy.execute(async () => {
        throw new CortexError('server_error', 'x');
      }),
    );
    await clock.advanceAsync(10);
    await fail.outcome;
    const s = metrics.snapshot();
    expect(s.requests).toEqual({ success: 1, failure: 1 });
    expect(s.errors).toEqual({ server_error: 1 });
    expect(s.retries).toEqual({ server_error: 1 });
    expect(s.breakerState).toBe(2);
    expect(s.latency).toEqual({ count: 2, sumMs: 30, maxMs: 30 });
    clock.advance(1_000);
    expect(metrics.snapshot().breakerState).toBe(1);
  });
});

describe('Emitter', () => {
  it('is inactive without listeners, isolates broken ones, and unsubscribes', () => {
    const e = new Emitter<number>();
    expect(e.active).toBe(false);
    const seen: number[] = [];
    const off = e.on((n) => seen.push(n));
    e.on(() => {
      throw new Error('broken listener');
    });
    e.emit(1);
    off();
    e.emit(2);
    expect(seen).toEqual([1]);
    expect(e.active).toBe(true);
  });
});
