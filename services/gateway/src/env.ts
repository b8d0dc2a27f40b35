import { baseEnvSchema, loadEnv, portSchema, urlListSchema } from '@cortex/service-kit';
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
    /** Batches of inputs sent to memory at once (one more batch forms while they are stored). */
    STORE_BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(8).default(1),
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

export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;

export const loadGatewayEnv = (source: NodeJS.ProcessEnv = process.env) => loadEnv(gatewayEnvSchema, source);
