import { type MetricsSink, metricsListener } from '@cortex/resilience';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The resilience layer's events as Prometheus metrics, one label set per upstream. Names are the
 * ones infra/prometheus/alerts.yml is written against; a test there checks they exist.
 */
export function resilienceMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  const calls = get(
    'resilience_calls_total',
    () =>
      new Counter({
        name: 'resilience_calls_total',
        help: 'Calls to an upstream through its policy, by outcome',
        labelNames: ['upstream', 'outcome'],
        registers: [registry],
      }),
  );
  const errors = get(
    'resilience_errors_total',
    () =>
      new Counter({
        name: 'resilience_errors_total',
        help: 'Failed calls to an upstream, by error code',
        labelNames: ['upstream', 'code'],
        registers: [registry],
      }),
  );
  const retries = get(
    'resilience_retries_total',
    () =>
      new Counter({
        name: 'resilience_retries_total',
        help: 'Retries of calls to an upstream, by the error that caused them',
        labelNames: ['upstream', 'reason'],
        registers: [registry],
      }),
  );
  const rejections = get(
    'resilience_rejections_total',
    () =>
      new Counter({
        name: 'resilience_rejections_total',
        help: 'Calls refused without reaching the upstream, by the policy that refused them',
        labelNames: ['upstream', 'by'],
        registers: [registry],
      }),
  );
  const breaker = get(
    'resilience_breaker_state',
    () =>
      new Gauge({
        name: 'resilience_breaker_state',
        help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open',
        labelNames: ['upstream'],
        registers: [registry],
      }),
  );
  const duration = get(
    'resilience_call_duration_seconds',
    () =>
      new Histogram({
        name: 'resilience_call_duration_seconds',
        help: 'Latency of calls to an upstream, retries included',
        labelNames: ['upstream'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  );
  return (upstream: string) => {
    breaker.set({ upstream }, 0);
    const sink: MetricsSink = {
      request(outcome, durationMs) {
        calls.inc({ upstream, outcome });
        duration.observe({ upstream }, durationMs / 1000);
      },
      error: (code) => errors.inc({ upstream, code }),
      retry: (reason) => retries.inc({ upstream, reason }),
      breakerState: (value) => breaker.set({ upstream }, value),
      rejected: (by) => rejections.inc({ upstream, by }),
    };
    return metricsListener(sink);
  };
}
