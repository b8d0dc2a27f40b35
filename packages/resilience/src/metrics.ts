import type { ErrorCode } from '@cortex/errors';
import type { BreakerState, Listener, ResilienceEvent } from './events';

/** The breaker state gauge's values: 0 closed, 1 half-open, 2 open. */
const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, 0 | 1 | 2>> = {
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
