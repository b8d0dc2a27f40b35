export { type BackoffOptions, backoffDelay, type Jitter } from './backoff';
export { BackoffLoop, type BackoffLoopOptions, type RunOptions } from './backoff-loop';
export { Bulkhead, type BulkheadOptions } from './bulkhead';
export { type CallScope, currentCallScope, inCallScope } from './call-scope';
export { CircuitBreaker } from './circuit-breaker';
export type { CircuitBreakerOptions } from './circuit-breaker-options';
export {
  classify,
  errorForStatus,
  errorFromResponse,
  errorFromTransport,
  isCallerFault,
  isRetriable,
  isUpstreamFailure,
} from './classify';
export { type Clock, systemClock, type TimerHandle, unrefTimer } from './clock';
export { type ComposedPolicy, wrap } from './compose';
export {
  envServiceName,
  type ServicePolicyConfig,
  type ServicePolicyConfigInput,
  servicePolicyConfigFromEnv,
  unknownResilienceVariables,
} from './config';
export {
  DependencyStats,
  type DependencyStatsOptions,
  type DependencyStatsSnapshot,
} from './dependency-stats';
export type { BreakerState, Emitter, GiveUpReason, Listener, ResilienceEvent } from './events';
export {
  type Alternative,
  type FallbackCall,
  type FallbackOptions,
  FallbackPolicy,
  type FallbackSource,
  isUnavailable,
  type LastGoodStore,
  type Resolved,
  withFallback,
} from './fallback';
export { type MetricsSink, metricsListener } from './metrics';
export { type AttemptContext, noPolicy, type Policy } from './policy';
export { createServicePolicy, ServicePolicy, type ServicePolicyDeps } from './policy-for-service';
export { type RetryOptions, RetryPolicy } from './retry';
export { parseRetryAfter } from './retry-after';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget';
export { sleep, sleepUntil } from './sleep';
export { isDeadlineCut, type TimeoutOptions, TimeoutPolicy } from './timeout';
export { UPSTREAM_DEFAULTS } from './upstream-defaults';
