import { type CodedError, hasCode } from '@cortex/errors';
import { Bulkhead } from './bulkhead';
import { CircuitBreaker } from './circuit-breaker';
import { isRetriable } from './classify';
import { type Clock, systemClock } from './clock';
import { composeLayers } from './compose';
import { parseConfig, type ServicePolicyConfig, type ServicePolicyConfigInput } from './config';
import { Emitter, type Listener, type ResilienceEvent } from './events';
import { type Attempt, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext } from './policy';
import { RetryPolicy } from './retry';
import { RetryBudget } from './retry-budget';
import { TimeoutPolicy } from './timeout';

export interface ServicePolicyDeps {
  /** The dependency's name, for messages and metrics labels. Default 'service'. */
  name?: string;
  clock?: Clock;
  random?: () => number;
  /** Receives every event of every layer (feed it to `metricsListener`). */
  onEvent?: Listener<ResilienceEvent>;
  /** To share one retry budget between several policies for the same upstream. */
  budget?: RetryBudget;
  /**
   * Which (classified) errors count against the dependency in its circuit breaker. Default
   * `isUpstreamFailure` (timeouts, connection errors, 5xx, overload; not the caller's 4xx).
   */
  isFailure?: (err: CodedError) => boolean;
}

/** The standard stack for one dependency, with its layers exposed for inspection. */
export class ServicePolicy implements Layer {
  /** Only the per-call `call` events; each layer has its own `events`, see `onEvent`. */
  readonly events = new Emitter();
  readonly bulkhead: Bulkhead | undefined;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker | undefined;
  readonly timeout: TimeoutPolicy;
  /** The layers that run, outermost first (the breaker and the timeout fused into one). */
  private readonly chain: readonly Layer[];
  private readonly clock: Clock;
  private readonly totalTimeoutMs: number | undefined;
  private readonly emitters: readonly Emitter[];

  constructor(
    readonly name: string,
    readonly config: ServicePolicyConfig,
    deps: ServicePolicyDeps = {},
  ) {
    const clock = deps.clock ?? systemClock;
    this.clock = clock;
    this.totalTimeoutMs = config.totalTimeoutMs;
    const { retry, breaker, bulkhead } = config;
    const budget = retry.budget.enabled
      ? (deps.budget ?? new RetryBudget({ ...retry.budget, clock }))
      : false;
    const { maxRetries, retryOn, budget: _budget, ...backoff } = retry;
    const kinds = retryOn === undefined ? undefined : new Set<string>(retryOn);
    this.retry = new RetryPolicy({
      ...backoff,
      // The config counts retries, as the design does; the policy counts attempts.
      maxAttempts: maxRetries + 1,
      ...(kinds === undefined ? {} : { shouldRetry: (err) => kinds.has(err.code) && isRetriable(err) }),
      budget,
      clock,
      random: deps.random ?? Math.random,
    });
    if (bulkhead.enabled) this.bulkhead = new Bulkhead({ ...bulkhead, clock });
    if (breaker.enabled) {
      const isFailure = deps.isFailure;
      this.breaker = new CircuitBreaker({ ...breaker, name, clock, ...(isFailure ? { isFailure } : {}) });
    }
    // Always there, even with no per-attempt limit (timeoutMs 0): it is what enforces the total
    // and the caller's deadline on an attempt that never settles.
    this.timeout = new TimeoutPolicy({ timeoutMs: config.timeoutMs, clock });
    // Order, outermost first (see README): a bulkhead slot is held for the whole call, retries
    // included; every retry attempt passes the breaker (so an open circuit stops the retries and
    // a half-open one sees one probe per attempt); the timeout is per attempt, inside the breaker,
    // so a hung attempt counts as the dependency's failure. The total deadline caps all layers.
    const layers = [this.bulkhead, this.retry, this.breaker, this.timeout].filter((p) => p !== undefined);
    this.chain = composeLayers(layers);
    this.emitters = [this.events, ...layers.map((p) => p.events)];
    if (deps.onEvent !== undefined) this.onEvent(deps.onEvent);
  }

  /** Subscribes to the events of every layer; returns the unsubscribe function. */
  onEvent(listener: Listener<ResilienceEvent>): () => void {
    const offs = this.emitters.map((e) => e.on(listener));
    return () => {
      for (const off of offs) off();
    };
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    if (this.totalTimeoutMs !== undefined) {
      const total = this.clock.now() + this.totalTimeoutMs;
      if (deadline === undefined || total < deadline) deadline = total;
    }
    const ctx = rootContext(signal, deadline);
    if (!this.events.active) return callNext(fn, ctx, this.chain, 0);
    return this.measured(fn, ctx);
  }

  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    if (chain === undefined || index >= chain.length) return callNext(fn, ctx, this.chain, 0);
    return callNext((inner) => callNext(fn, inner, chain, index), ctx, this.chain, 0);
  }

  private async measured<T>(fn: Attempt<T>, ctx: AttemptContext): Promise<T> {
    const start = this.clock.now();
    try {
      const value = await callNext(fn, ctx, this.chain, 0);
      this.events.emit({
        type: 'call',
        outcome: 'success',
        code: undefined,
        durationMs: this.clock.now() - start,
      });
      return value;
    } catch (err) {
      const code = hasCode(err) ? err.code : 'unknown';
      this.events.emit({ type: 'call', outcome: 'failure', code, durationMs: this.clock.now() - start });
      throw err;
    }
  }
}

/**
 * bulkhead → retry (with budget) → circuit breaker → timeout → fn, from a typed config object
 * (partial is fine: defaults are filled in) or one read by `servicePolicyConfigFromEnv`. Wrap the
 * result in `withFallback` for a fallback.
 */
export function createServicePolicy(
  config: ServicePolicyConfigInput = {},
  deps: ServicePolicyDeps = {},
): ServicePolicy {
  const name = deps.name ?? 'service';
  return new ServicePolicy(name, parseConfig(config, name), deps);
}
