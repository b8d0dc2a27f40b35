export { createServiceApp, type ServiceAppOptions } from './create-app';
export { DEADLINE_HEADER, parseDeadlineHeader } from './deadline';
export { baseEnvSchema, EnvError, loadEnv, portSchema, urlListSchema } from './env';
export { installErrorHandling, sendError } from './error-handler';
export { type MappedError, mapError, validationDetails } from './error-mapping';
export { type DependencyHealth, type HealthCheck, HealthRegistry, type HealthStatus } from './health';
export { isStorableText, storableObject, storableString } from './pg-safe';
export { envOrExit, type RunOptions, runService } from './run-service';
export { registerTools, type Tool, type ToolCall } from './tools';
