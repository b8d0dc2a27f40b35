export { type BackoffOptions, backoffDelay, type Jitter } from './backoff';
export { Bulkhead, type BulkheadOptions } from './bulkhead';
export { type CallScope, currentCallScope, inCallScope } from './call-scope';
export { CircuitBreaker } from './circuit-breaker';
export type { CircuitBreakerOptions } from './circuit-breaker-options';
export {
  classify,
  codeForUpstreamStatus,
  errorForStatus,
  errorFromResponse,
  errorFromTransport,
  isCallerFault,
  isRetriable,
  isUpstreamFailure,
} from './classify';
export { type Clock, systemClock, type TimerHandle, unrefTimer } from './clock';
export { ComposedPolicy, fuse, wrap } from './compose';
export {
  envKeys,
  envServiceName,
  parseConfig,
  parseServicePolicyConfig,
  type ServicePolicyConfig,
  type ServicePolicyConfigInput,
  servicePolicyConfigSchema,
  unknownResilienceVariables,
} from './config';
export {
  DependencyStats,
  type DependencyStatsOptions,
  type DependencyStatsSnapshot,
} from './dependency-stats';
export { type BreakerState, Emitter, type GiveUpReason, type Listener, type ResilienceEvent } from './events';
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
export { GuardedTimeout } from './guarded-timeout';
export {
  BREAKER_STATE_VALUE,
  createMetricsCollector,
  type MetricsSink,
  type MetricsSnapshot,
  metricsListener,
} from './metrics';
export { type Attempt, type AttemptContext, callNext, type Policy, rootContext } from './policy';
export { abortError } from './policy-errors';
export { createServicePolicy, ServicePolicy, type ServicePolicyDeps } from './policy-for-service';
export { type RetryOptions, RetryPolicy } from './retry';
export { parseRetryAfter } from './retry-after';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget';
export { sleep, sleepUntil } from './sleep';
export { isDeadlineCut, type TimeoutOptions, TimeoutPolicy } from './timeout';
export { sharedWheel, TimerWheel, WheelEntry } from './timer-wheel';
export { UPSTREAM_DEFAULTS } from './upstream-defaults';
