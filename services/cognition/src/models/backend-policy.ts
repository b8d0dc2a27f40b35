import {
  type Clock,
  createServicePolicy,
  isDeadlineCut,
  type Listener,
  type ResilienceEvent,
  type ServicePolicy,
} from '@cortex/resilience';

export interface BackendPolicySettings {
  timeoutMs: number;
  failureThreshold: number;
  openMs: number;
}

export interface BackendPolicyDeps {
  /** The backend's name: its circuit's name. */
  name: string;
  clock?: Clock | undefined;
  /** Receives every call's outcome and the breaker's and the timeout's events (for /metrics). */
  onEvent?: Listener<ResilienceEvent> | undefined;
}

/**
 * A model backend's policy, the library's service stack: no retry (the next backend is the
 * retry), a breaker outside a timeout (a hung call counts as the backend's failure). Unlike a
 * service dependency, a model backend that answers 4xx (bad key, unknown model) or nonsense (bad
 * JSON, wrong shape) is just as useless as one that is down, so every failure counts against it;
 * only the caller's own abort, or its deadline running out first, stays neutral.
 */
export function createBackendPolicy(settings: BackendPolicySettings, deps: BackendPolicyDeps): ServicePolicy {
  const { timeoutMs, failureThreshold, openMs } = settings;
  return createServicePolicy(
    {
      timeoutMs,
      retry: { maxRetries: 0, budget: { enabled: false } },
      breaker: {
        failureThreshold,
        openMs,
        // A backend that keeps failing its probes is asked less and less often, within reason.
        maxOpenMs: openMs * 8,
        // The timeout inside ends a probe first; this only frees the slot if something still hangs.
        probeTimeoutMs: timeoutMs + 1000,
      },
    },
    {
      name: deps.name,
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
      // Cut off by the caller's deadline before the backend's own timeout: the caller's budget ran
      // out, which says nothing about the backend (else ordinary short deadlines would open it).
      isFailure: (err) => !isDeadlineCut(err),
    },
  );
}
