import type { ServicePolicyConfigInput } from './config';

/**
 * Per-upstream defaults: the original design's example configuration (memory: 3 retries,
 * breaker 5 failures / 30 s / 3 half-open calls; cognition: 2 retries at 1.5×, breaker 3 / 15 s /
 * 2), with one measured departure, the open period:
 *
 * The design keeps a circuit open for its full 30 s (15 s). Here a circuit opens for 2 s first and
 * backs off ×2 per failed probe up to the design's figure (`maxOpenMs`), because the recovery
 * target is "back to direct stores within about a second of memory's return": with a flat 30 s
 * the gateway would journal inputs (and serve /history from its cache) for up to 30 s after
 * memory is back. A failed probe costs one refused connection, so probing every 2, 4, 8, 16,
 * 30 s costs nothing measurable (an open-circuit rejection costs ~1.2 µs, BENCHMARKS.md), while a
 * long outage still ends up probed only every 30 s, as designed.
 */
export const UPSTREAM_DEFAULTS = {
  memory: {
    totalTimeoutMs: 15_000,
    retry: { maxRetries: 3, baseDelayMs: 100, multiplier: 2, maxDelayMs: 2_000 },
    breaker: {
      failureThreshold: 5,
      openMs: 2_000,
      maxOpenMs: 30_000,
      halfOpenMaxProbes: 3,
    },
  },
  cognition: {
    totalTimeoutMs: 15_000,
    retry: { maxRetries: 2, baseDelayMs: 100, multiplier: 1.5, maxDelayMs: 2_000 },
    breaker: {
      failureThreshold: 3,
      openMs: 2_000,
      maxOpenMs: 15_000,
      halfOpenMaxProbes: 2,
    },
  },
} as const satisfies Readonly<Record<string, ServicePolicyConfigInput>>;

/** The upstreams with defaults of their own (a misspelt name is a type error). */
type UpstreamName = keyof typeof UPSTREAM_DEFAULTS;

/** `name`'s own defaults, if it has any. */
export function upstreamDefaults(name: string): ServicePolicyConfigInput | undefined {
  return Object.hasOwn(UPSTREAM_DEFAULTS, name) ? UPSTREAM_DEFAULTS[name as UpstreamName] : undefined;
}
