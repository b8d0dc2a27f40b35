import type { ErrorCode } from '@cortex/errors';
import type { BreakerState, Listener, ResilienceEvent } from './events';

/** The breaker state gauge's values: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, 0 | 1 | 2>> = {
  closed: 0,
  half_open: 1,
  open: 2,
};

/**
 * What a metrics backend needs from the event stream. service-kit implements it with prom-client
 * (this package stays dependency-free): counters for requests, errors by code and retries by
 * reason, a gauge for the breaker state, a histogram for latency.
 */
export interface MetricsSink {
  request(outcome: 'success' | 'failure', durationMs: number): void;
  error(code: ErrorCode): void;
  retry(reason: ErrorCode): void;
  giveUp?(reason: string): void;
  breakerState(value: 0 | 1 | 2): void;
  rejected?(by: 'breaker' | 'bulkhead' | 'timeout'): void;
  fallback?(source: string): void;
}

/** Maps the event stream onto a sink; pass the result as `onEvent`. */
export function metricsListener(sink: MetricsSink): Listener<ResilienceEvent> {
  return (e) => {
    switch (e.type) {
      case 'call':
        sink.request(e.outcome, e.durationMs);
        if (e.code !== undefined) sink.error(e.code);
        return;
      case 'retry':
        sink.retry(e.reason);
        return;
      case 'give_up':
        sink.giveUp?.(e.reason);
        return;
      case 'breaker_open':
        sink.breakerState(BREAKER_STATE_VALUE.open);
        return;
      case 'breaker_half_open':
        sink.breakerState(BREAKER_STATE_VALUE.half_open);
        return;
      case 'breaker_close':
        sink.breakerState(BREAKER_STATE_VALUE.closed);
        return;
      case 'breaker_reject':
        sink.rejected?.('breaker');
        return;
      case 'bulkhead_reject':
        sink.rejected?.('bulkhead');
        return;
      case 'timeout':
        sink.rejected?.('timeout');
        return;
      case 'fallback':
        sink.fallback?.(e.source);
        return;
    }
  };
}

export interface MetricsSnapshot {
  requests: { success: number; failure: number };
  errors: Partial<Record<ErrorCode, number>>;
  retries: Partial<Record<ErrorCode, number>>;
  breakerState: 0 | 1 | 2;
  latency: { count: number; sumMs: number; maxMs: number };
}

/** An in-memory sink: for tests, health endpoints, or a backend without a client library. */
export function createMetricsCollector(): {
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
