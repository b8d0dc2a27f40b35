export { createServiceApp } from './create-app';
export { holderOf, lockDirectory } from './dir-lock';
export {
  baseEnvSchema,
  EnvError,
  isProduction,
  loadEnv,
  loadResilienceEnv,
  nodeEnvSchema,
  portSchema,
  urlListSchema,
} from './env';
export { GroupCommitter } from './group-commit';
export type {
  DependencyHealth,
  HealthCheck,
} from './health';
export {
  MCP_META,
  MCP_SERVER_ERROR,
  type McpCall,
  type McpResourceTemplate,
  type McpTool,
  mcpTools,
  registerMcp,
} from './mcp';
export { sampledGauge } from './metrics';
export {
  errorResponses,
  errorSchemas,
  type JsonSchema,
  jsonContent,
  mcpPaths,
  type OpenApiDocument,
  openApiPath,
  operationsPaths,
  type PathItem,
  parametersOf,
  schemaOf,
  serveOpenApi,
  sseContent,
  toolsDocument,
} from './openapi';
export { isStorableText, storableObject, storableString } from './pg-safe';
export { resilienceMetrics } from './resilience-metrics';
export { envOrExit, runService } from './run-service';
export type { ServicePermission } from './service-auth';
export {
  checkSecrets,
  DEVELOPMENT_SECRETS,
  loadServiceSecrets,
} from './service-secrets';
export { stableId } from './stable-id';
export { timeOrderedId } from './time-ordered-id';
export { argsSchema, registerTools, type Tool, type ToolAnnotations } from './tools';
export { createUpstream } from './upstream';
