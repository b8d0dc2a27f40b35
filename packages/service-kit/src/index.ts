export { createServiceApp, type ServiceAppOptions } from './create-app';
export { DEADLINE_HEADER, parseDeadlineHeader } from './deadline';
export { holderAlive, holderOf, type LockHolder, lockDirectory } from './dir-lock';
export {
  baseEnvSchema,
  EnvError,
  isProduction,
  isSensitive,
  type LoadEnvOptions,
  loadEnv,
  loadResilienceEnv,
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
export { LogLimiter, type LogLimiterOptions } from './log-limiter';
export {
  MCP_META,
  MCP_RESOURCE_NOT_FOUND,
  MCP_SERVER_ERROR,
  type McpCall,
  type McpMeta,
  type McpOptions,
  type McpResourceTemplate,
  type McpTool,
  mcpErrorResult,
  mcpTools,
  readMeta,
  registerMcp,
} from './mcp';
export { type SampledGauge, sampledGauge } from './metrics';
export {
  ERROR_SCHEMA_REF,
  errorResponses,
  errorSchemas,
  type JsonSchema,
  jsonContent,
  mcpPaths,
  type OpenApiDocument,
  type Operation,
  openApiPath,
  operationsPaths,
  type PathItem,
  parametersOf,
  schemaOf,
  serveOpenApi,
  sseContent,
  type ToolsDocumentOptions,
  toolsDocument,
} from './openapi';
export { type ParentWatchOptions, watchParent } from './parent-watch';
export { isStorableText, storableObject, storableString } from './pg-safe';
export { resilienceLog } from './resilience-log';
export { resilienceMetrics } from './resilience-metrics';
export { envOrExit, type RunOptions, runService } from './run-service';
export { installServiceAuth, type ServiceAuthOptions, type ServicePermission } from './service-auth';
export {
  CALLER_SERVICES,
  type CallerService,
  checkSecrets,
  DEVELOPMENT_SECRETS,
  loadServiceSecrets,
  MIN_SECRET_LENGTH,
  SERVICE_SECRET_VARIABLE,
  type ServiceSecrets,
  secretList,
} from './service-secrets';
export { MAX_SERVICE_TOKEN_LIFETIME_S, ServiceTokenVerifier } from './service-token-verifier';
export { stableId } from './stable-id';
export { timeOrderedId } from './time-ordered-id';
export { argsSchema, registerTools, type Tool, type ToolAnnotations, type ToolCall } from './tools';
export { createUpstream, type Upstream, type UpstreamOptions } from './upstream';
