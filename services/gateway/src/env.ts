import { baseEnvSchema, loadEnv, loadResilienceEnv, portSchema, urlListSchema } from '@cortex/service-kit';
import { z } from 'zod';

const DEV_SECRET = 'cortex-dev-secret-change-me-0123456789';

export const gatewayEnvSchema = baseEnvSchema
  .extend({
    NODE_ENV: z.string().default('development'),
    PORT: portSchema(8000),
    MEMORY_SERVICE_URL: urlListSchema('http://localhost:9000'),
    COGNITION_SERVICE_URL: urlListSchema('http://localhost:9100'),
    JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Local users for POST /auth/login: `name:password[:user_id]`, comma-separated. */
    AUTH_USERS: z.string().optional(),
    TOKEN_TTL_S: z.coerce.number().int().positive().default(86_400),
    PENDING_STORE_DIR: z.string().optional(),
    PENDING_MAX_ITEMS: z.coerce.number().int().positive().default(100_000),
    PENDING_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
    SSE_HEARTBEAT_MS: z.coerce.number().int().positive().default(30_000),
    SSE_RETRY_MS: z.coerce.number().int().positive().default(2000),
    SSE_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().positive().default(10),
    /** Bytes a slow SSE client may leave unread before it is cut off (it then resumes). */
    SSE_MAX_BUFFERED_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(256 * 1024),
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
    MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).default(1000),
    UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
    /** Each user's last good history, served by /history while memory is away (an LRU). */
    HISTORY_CACHE_MAX_USERS: z.coerce.number().int().min(0).default(10_000),
    HISTORY_CACHE_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    HISTORY_CACHE_MAX_AGE_MS: z.coerce.number().int().min(0).default(3_600_000),
  })
  .transform((env, ctx) => {
    const production = env.NODE_ENV === 'production';
    if (production && !env.JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'is required in production' });
    }
    return {
      ...env,
      JWT_SECRET: env.JWT_SECRET ?? DEV_SECRET,
      usingDevSecret: env.JWT_SECRET === undefined,
      AUTH_USERS: env.AUTH_USERS ?? (production ? '' : 'demo:demo:demo-user,alice:alice:alice,bob:bob:bob'),
      PENDING_STORE_DIR: env.PENDING_STORE_DIR ?? `.data/gateway-pending-${env.PORT}`,
    };
  });

/**
 * The gateway's environment, with each upstream's resilience settings parsed here at the edge
 * (`RESILIENCE_MEMORY_*`, `RESILIENCE_COGNITION_*` over the design's defaults, see
 * @cortex/resilience). A misspelt `RESILIENCE_*` name stops the start with one line.
 */
export function loadGatewayEnv(source: NodeJS.ProcessEnv = process.env) {
  const env = loadEnv(gatewayEnvSchema, source);
  const resilience = loadResilienceEnv(source, {
    // A Retry-After from memory is not waited out inside a client's request: the input is
    // journalled (the replayer honours it), and a read falls back.
    memory: { timeoutMs: env.UPSTREAM_TIMEOUT_MS, retry: { maxRetryAfterMs: 0 } },
    cognition: { timeoutMs: env.UPSTREAM_TIMEOUT_MS },
  });
  return { ...env, resilience };
}

export type GatewayEnv = ReturnType<typeof loadGatewayEnv>;
