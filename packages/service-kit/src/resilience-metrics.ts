import { type MetricsSink, metricsListener } from '@cortex/resilience';
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

/**
 * The resilience layer's events as Prometheus metrics, one label set per upstream. Names are the
 * ones infra/prometheus/alerts.yml is written against; a test there checks they exist.
 */
export function resilienceMetrics(registry: Registry) {
  // Several upstreams share one registry: each metric is made once and found again after.
  const once = <M extends Metric>(name: string, make: (registers: Registry[]) => M): M =>
    (registry.getSingleMetric(name) as M | undefined) ?? make([registry]);
  const counter = (name: string, help: string, label: string) =>
    once(name, (registers) => new Counter({ name, help, labelNames: ['upstream', label], registers }));

  const calls = counter(
    'resilience_calls_total',
    'Calls to an upstream through its policy, by outcome',
    'outcome',
  );
  const errors = counter('resilience_errors_total', 'Failed calls to an upstream, by error code', 'code');
  const retries = counter(
    'resilience_retries_total',
    'Retries of calls to an upstream, by the error that caused them',
    'reason',
  );
  const rejections = counter(
    'resilience_rejections_total',
    'Calls refused without reaching the upstream, by the policy that refused them',
    'by',
  );
  const breaker = once(
    'resilience_breaker_state',
    (registers) =>
      new Gauge({
        name: 'resilience_breaker_state',
        help: 'Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open',
        labelNames: ['upstream'],
        registers,
      }),
  );
  const duration = once(
    'resilience_call_duration_seconds',
    (registers) =>
      new Histogram({
        name: 'resilience_call_duration_seconds',
        help: 'Latency of calls to an upstream, retries included',
        labelNames: ['upstream'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
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
