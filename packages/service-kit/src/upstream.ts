import { ServiceClient, type TokenSource } from '@cortex/network-client';
import {
  createServicePolicy,
  envServiceName,
  parseServicePolicyConfig,
  type ServicePolicy,
} from '@cortex/resilience';
import type { FastifyInstance } from 'fastify';
import { resilienceMetrics } from './resilience-metrics';

export interface UpstreamOptions {
  name: string;
  urls: readonly string[];
  /** Per-attempt timeout unless `RESILIENCE_<NAME>_TIMEOUT_MS` says otherwise. */
  timeoutMs: number;
  /** This service's defaults for the upstream, as `RESILIENCE_<NAME>_*` keys without the prefix. */
  defaults?: Record<string, string>;
  env?: Record<string, string | undefined>;
  healthCheckIntervalMs?: number;
  /** How often health is checked while the dependency looks down (default 250 ms). */
  recoveryCheckIntervalMs?: number;
  /** Signs every call to the upstream (service authentication); health checks stay unsigned. */
  tokens?: TokenSource;
}

export interface Upstream {
  client: ServiceClient;
  policy: ServicePolicy;
  /** For /health: the dependency's reachability and its circuit (`warning` while it is not closed). */
  health(
    signal: AbortSignal,
  ): Promise<{ status: 'healthy' | 'warning' | 'unhealthy'; circuit: string; [k: string]: unknown }>;
}

/**
 * A dependency as every service uses it: the network client under the policy configured for it
 * (retry with budget, breaker, timeout), its events counted in this app's /metrics, closed with
 * the app.
 */
export function createUpstream(app: FastifyInstance, options: UpstreamOptions): Upstream {
  const prefix = `RESILIENCE_${envServiceName(options.name)}_`;
  const defaults = { TIMEOUT_MS: String(options.timeoutMs), ...options.defaults };
  // The environment wins over this service's defaults, which win over the library's.
  const env = {
    ...Object.fromEntries(Object.entries(defaults).map(([k, v]) => [prefix + k, v])),
    ...(options.env ?? process.env),
  };
  const config = parseServicePolicyConfig(options.name, env);
  const policy = createServicePolicy(config, {
    name: options.name,
    onEvent: resilienceMetrics(app.metrics)(options.name),
  });
  const client = new ServiceClient({
    service: options.name,
    urls: options.urls,
    policy,
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
      };
    },
  };
}
