import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per app (not prom-client's global) so that several apps in one test process
 * never collide on metric names.
 */
export function installMetrics(app: FastifyInstance, service: string, options: { defaultMetrics: boolean }) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.decorate('metrics', registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}

export interface SampledGauge {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Read when Prometheus scrapes: values that live elsewhere (a queue's length) are not copied on every change. */
  sample(): readonly { labels?: Record<string, string>; value: number }[];
}

/** A gauge whose values are read at scrape time from the state that owns them. */
export function sampledGauge(registry: Registry, spec: SampledGauge): Gauge {
  return new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, value } of spec.sample()) {
        if (labels) this.set(labels, value);
        else this.set(value);
      }
    },
  });
}
