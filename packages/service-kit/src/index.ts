export { createServiceApp, type ServiceAppOptions } from './create-app';
export { DEADLINE_HEADER, parseDeadlineHeader } from './deadline';
export { lockDirectory } from './dir-lock';
export {
  baseEnvSchema,
  EnvError,
  isProduction,
  type LoadEnvOptions,
  loadEnv,
  type NodeEnv,
  nodeEnvSchema,
  portSchema,
  urlListSchema,
} from './env';
export { installErrorHandling, sendError } from './error-handler';
export { type MappedError, mapError, validationDetails } from './error-mapping';
export { type GroupCommitOptions, GroupCommitter } from './group-commit';
export {
  type DependencyHealth,
  type HealthCheck,
  HealthRegistry,
  type HealthReport,
  type HealthStatus,
} from './health';
export { isStorableText, storableObject, storableString } from './pg-safe';
export { resilienceMetrics } from './resilience-metrics';
export { envOrExit, type RunOptions, runService } from './run-service';
export { stableId } from './stable-id';
export { registerTools, type Tool, type ToolCall } from './tools';
export { createUpstream, type Upstream, type UpstreamOptions } from './upstream';
