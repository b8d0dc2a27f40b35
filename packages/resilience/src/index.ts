export type { BackoffOptions } from './backoff';
export { BackoffLoop } from './backoff-loop';
/** @public building blocks for one's own stack (README, "Use"): nothing in this repository composes by hand. */
export { Bulkhead, type BulkheadOptions } from './bulkhead';
export { currentCallScope, inCallScope } from './call-scope';
export { CircuitBreaker } from './circuit-breaker';
/** @public building blocks for one's own stack (README, "Use"): nothing in this repository composes by hand. */
export type { CircuitBreakerOptions } from './circuit-breaker-options';
export {
  classify,
  errorForStatus,
  errorFromResponse,
  errorFromTransport,
  isCallerFault,
} from './classify';
export { type Clock, systemClock, type TimerHandle, unrefTimer } from './clock';
/** @public building blocks for one's own stack (README, "Use"): nothing in this repository composes by hand. */
export { type ComposedPolicy, wrap } from './compose';
export {
  envServiceName,
  type ServicePolicyConfig,
  type ServicePolicyConfigInput,
  servicePolicyConfigFromEnv,
  unknownResilienceVariables,
} from './config';
export { DependencyStats } from './dependency-stats';
export type { Listener, ResilienceEvent } from './events';
export {
  FallbackPolicy,
  isUnavailable,
  type LastGoodStore,
  withFallback,
} from './fallback';
export { type MetricsSink, metricsListener } from './metrics';
export { type AttemptContext, noPolicy, type Policy } from './policy';
export { createServicePolicy, ServicePolicy } from './policy-for-service';
/** @public building blocks for one's own stack (README, "Use"): nothing in this repository composes by hand. */
export { type RetryOptions, RetryPolicy } from './retry';
export { parseRetryAfter } from './retry-after';
/** @public building blocks for one's own stack (README, "Use"): nothing in this repository composes by hand. */
export { RetryBudget, type RetryBudgetOptions } from './retry-budget';
export { isDeadlineCut, TimeoutPolicy } from './timeout';
export { UPSTREAM_DEFAULTS } from './upstream-defaults';
