import { ServiceClient, type TokenSource } from '@cortex/network-client';
import {
  type Clock,
  createServicePolicy,
  DependencyStats,
  type Listener,
  type ResilienceEvent,
  type ServicePolicy,
  type ServicePolicyConfig,
} from '@cortex/resilience';
import type { FastifyInstance } from 'fastify';
import type { LogLimiterOptions } from './log-limiter';
import { resilienceLog } from './resilience-log';
import { resilienceMetrics } from './resilience-metrics';

export interface UpstreamOptions {
  name: string;
  urls: readonly string[];
  /** The policy's settings, parsed at the edge (`loadResilienceEnv` in the service's env.ts). */
  config: ServicePolicyConfig;
  healthCheckIntervalMs?: number;
  /** How often health is checked while the dependency looks down (default 250 ms). */
  recoveryCheckIntervalMs?: number;
  /** Signs every call to the upstream (service authentication); health checks stay unsigned. */
  tokens?: TokenSource;
  /** Window of the request/error/latency figures in /health. Default 60 s. */
  statsWindowMs?: number;
  /** How many log lines per event kind and window (see `resilienceLog`). */
  logLimit?: LogLimiterOptions;
  clock?: Clock;
}

export interface Upstream {
  client: ServiceClient;
  policy: ServicePolicy;
  /** Recent request count, error rate and p95 latency of calls to this upstream. */
  stats: DependencyStats;
  /**
   * Metrics and log lines for events of this upstream's own: subscribe a fallback around it
   * (`fallback.events.on(upstream.onEvent)`) so that fallbacks are counted and logged too.
   */
  onEvent: Listener<ResilienceEvent>;
  /** For /health: the dependency's reachability, its circuit and its recent figures. */
  health(
    signal: AbortSignal,
  ): Promise<{ status: 'healthy' | 'warning' | 'unhealthy'; circuit: string; [k: string]: unknown }>;
}

/**
 * A dependency as every service uses it: the network client under the policy configured for it
 * (retry with budget, breaker, timeout), its events counted in this app's /metrics, logged
 * (rate-limited) in its log and summed up in its /health, closed with the app.
 */
export function createUpstream(app: FastifyInstance, options: UpstreamOptions): Upstream {
  const { config, name } = options;
  const metrics = resilienceMetrics(app.metrics)(name);
  const log = resilienceLog(app.log, name, { ...options.logLimit, clock: options.clock });
  const stats = new DependencyStats({ windowMs: options.statsWindowMs, clock: options.clock });
  const recordStats = stats.listener();
  const onEvent: Listener<ResilienceEvent> = (e) => {
    metrics(e);
    log(e);
  };
  const policy = createServicePolicy(config, {
    name,
    clock: options.clock,
    onEvent: (e) => {
      onEvent(e);
      recordStats(e);
    },
  });
  const client = new ServiceClient({
    service: name,
    urls: options.urls,
    policy,
    connectTimeoutMs: config.connectTimeoutMs,
    // undici's own timeouts are only a backstop behind the policy's per-attempt timeout.
    timeoutMs: Math.max(config.timeoutMs * 2, 1000),
    healthCheckIntervalMs: options.healthCheckIntervalMs ?? 5000,
    recoveryCheckIntervalMs: options.recoveryCheckIntervalMs ?? 250,
    // Health checks are evidence for the breaker: memory answering ends an open period at once.
    ...(policy.breaker ? { breaker: policy.breaker } : {}),
    log: app.log,
    ...(options.tokens ? { tokens: options.tokens } : {}),
  });
  app.addHook('onClose', async () => client.close());
  return {
    client,
    policy,
    stats,
    onEvent,
    async health(signal) {
      const h = await client.checkHealth(signal);
      const circuit = policy.breaker?.state ?? 'disabled';
      // Calls are refused while the circuit is not closed, whatever the dependency says of itself.
      const status =
        h.status === 'healthy' && (circuit === 'open' || circuit === 'half_open') ? 'warning' : h.status;
      return {
        ...h,
        status,
        circuit,
        instances_ejected: client.instances.describe().filter((i) => i.ejected).length,
        recent: stats.snapshot(),
      };
    },
  };
}
