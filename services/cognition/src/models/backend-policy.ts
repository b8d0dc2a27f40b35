import {
  CircuitBreaker,
  type Clock,
  isDeadlineCut,
  type Listener,
  type ResilienceEvent,
  TimeoutPolicy,
  wrap,
} from '@cortex/resilience';

export interface BackendPolicyOptions {
  timeoutMs: number;
  failureThreshold: number;
  openMs: number;
  clock?: Clock;
  /** Receives the breaker's and the timeout's events (for /metrics). */
  onEvent?: Listener<ResilienceEvent>;
}

/** The one shape the chain needs from a policy (the @cortex/resilience `Policy` has it). */
export interface CallPolicy {
  execute<T>(
    fn: (ctx: { signal: AbortSignal | undefined }) => Promise<T>,
    signal?: AbortSignal,
    deadline?: number,
  ): Promise<T>;
}

/**
 * Circuit breaker outside, timeout inside: a hung call counts as the backend's failure. Unlike a
 * service dependency, a model backend that answers 4xx (bad key, unknown model) or nonsense (bad
 * JSON, wrong shape) is just as useless as one that is down, so every failure counts against it;
 * only the caller's own abort, or its deadline running out first, stays neutral.
 */
export function createBackendPolicy(options: BackendPolicyOptions): {
  policy: CallPolicy;
  breaker: CircuitBreaker;
} {
  const clock = options.clock;
  const breaker = new CircuitBreaker({
    failureThreshold: options.failureThreshold,
    openMs: options.openMs,
    // A backend that keeps failing its probes is asked less and less often, within reason.
    maxOpenMs: options.openMs * 8,
    // The timeout inside ends a probe first; this only frees the slot if something still hangs.
    probeTimeoutMs: options.timeoutMs + 1000,
    // Cut off by the caller's deadline before the backend's own timeout: the caller's budget ran
    // out, which says nothing about the backend (else ordinary short deadlines would open it).
    isFailure: (err) => !isDeadlineCut(err),
    ...(clock ? { clock } : {}),
  });
  const timeout = new TimeoutPolicy({ timeoutMs: options.timeoutMs, ...(clock ? { clock } : {}) });
  if (options.onEvent) {
    breaker.events.on(options.onEvent);
    timeout.events.on(options.onEvent);
  }
  return { policy: wrap(breaker, timeout), breaker };
}
