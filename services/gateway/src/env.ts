import {
  baseEnvSchema,
  checkSecrets,
  DEVELOPMENT_SECRETS,
  isProduction,
  loadEnv,
  loadResilienceEnv,
  loadServiceSecrets,
  nodeEnvSchema,
  portSchema,
  urlListSchema,
} from '@cortex/service-kit';
import { parseTracingEnv } from '@cortex/telemetry';
import { z } from 'zod';
import { parseUsers } from './auth/users';

const DEV_SECRET = DEVELOPMENT_SECRETS.JWT_SECRET;
const DEMO_USERS = 'demo:demo:demo-user,alice:alice:alice,bob:bob:bob';

const count = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * Fastify's `trustProxy`: unset or `false` trusts no proxy (the socket's peer is the client); a
 * number trusts that many hops; `true` trusts every hop (only behind a proxy that overwrites
 * X-Forwarded-For); anything else is a comma-separated list of proxy addresses or CIDR ranges.
 */
const trustProxySchema = z
  .string()
  .default('false')
  .transform((v): boolean | number | string => {
    const s = v.trim().toLowerCase();
    if (s === 'false' || s === '0' || s === '') return false;
    if (s === 'true') return true;
    if (/^\d+$/.test(s)) return Number(s);
    return v.trim();
  })
  .refine(
    (v) => typeof v !== 'string' || /^[0-9a-f.:/,\s]+$/i.test(v),
    'must be false, true, a hop count or addresses',
  );

const hostList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );

export const gatewayEnvSchema = baseEnvSchema
  .extend({
    NODE_ENV: nodeEnvSchema,
    PORT: portSchema(8000),
    MEMORY_SERVICE_URL: urlListSchema('http://localhost:9000'),
    COGNITION_SERVICE_URL: urlListSchema('http://localhost:9100'),
    JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Signs calls to memory and cognition (comma-separated for rotation), checked by loadServiceSecrets. */
    GATEWAY_SERVICE_SECRET: z.string().optional(),
    /**
     * Local users for POST /auth/login, comma-separated `name:scrypt$N$r$p$salt$hash[:user_id]`
     * (`hash-password` makes the middle part). Outside production `name:password[:user_id]` is
     * accepted too. Empty means no users; unset means the demo users, outside production only.
     */
    AUTH_USERS: z.string().optional(),
    TOKEN_TTL_S: positive(86_400),
    /** How long after a password check POST /auth/refresh still renews a token. */
    SESSION_MAX_S: positive(7 * 86_400),
    TRUST_PROXY: trustProxySchema,
    PENDING_STORE_DIR: z.string().optional(),
    PENDING_MAX_ITEMS: positive(100_000),
    PENDING_MAX_BYTES: positive(256 * 1024 * 1024),
    SSE_HEARTBEAT_MS: positive(30_000),
    SSE_RETRY_MS: positive(2000),
    SSE_MAX_CONNECTIONS_PER_USER: positive(10),
    /** Open streams per gateway process, all users together. */
    SSE_MAX_CONNECTIONS: positive(10_000),
    /** Bytes a slow SSE client may leave unread before it is cut off (it then resumes). */
    SSE_MAX_BUFFERED_BYTES: positive(256 * 1024),
    /** Requests per verified user per minute; 0 turns the limit off. */
    RATE_LIMIT_PER_MINUTE: count(6000),
    /** Requests per client address per minute, counted before authentication; 0 turns it off. */
    RATE_LIMIT_PER_ADDRESS_PER_MINUTE: count(30_000),
    /** Login attempts per username, and per address, in LOGIN_WINDOW_S; 0 turns each off. */
    LOGIN_MAX_PER_USERNAME: count(10),
    LOGIN_MAX_PER_ADDRESS: count(30),
    LOGIN_WINDOW_S: positive(300),
    /** Longest a request may take to arrive (headers and body); 0 turns it off. */
    REQUEST_TIMEOUT_MS: count(30_000),
    /** Longest a connection may stay idle (no bytes either way); streams are exempt; 0 off. */
    CONNECTION_TIMEOUT_MS: count(60_000),
    MAX_EVENT_LOOP_DELAY_MS: count(1000),
    UPSTREAM_TIMEOUT_MS: positive(5000),
    /** Each user's last good history, served by /history while memory is away (an LRU). */
    HISTORY_CACHE_MAX_USERS: count(10_000),
    HISTORY_CACHE_MAX_BYTES: count(64 * 1024 * 1024),
    HISTORY_CACHE_MAX_AGE_MS: count(3_600_000),
    // DNS-rebinding protection on /mcp: the Host names it answers to and the browser origins it
    // trusts (none by default); `*` allows any.
    MCP_ALLOWED_HOSTS: hostList('localhost,127.0.0.1,[::1]'),
    MCP_ALLOWED_ORIGINS: hostList(''),
    /** Batches of inputs sent to memory at once (one more batch forms while they are stored). */
    STORE_BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(8).default(1),
  })
  .transform((env, ctx) => {
    const production = isProduction(env.NODE_ENV);
    if (production && !env.JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'is required in production' });
    }
    if (production && env.JWT_SECRET === DEV_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must not be the development secret' });
    }
    const spec = env.AUTH_USERS ?? (production ? '' : DEMO_USERS);
    let users: ReturnType<typeof parseUsers> = [];
    try {
      users = parseUsers(spec, { allowPlaintext: !production });
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['AUTH_USERS'], message: (err as Error).message });
    }
    return {
      ...env,
      JWT_SECRET: env.JWT_SECRET ?? DEV_SECRET,
      usingDevSecret: env.JWT_SECRET === undefined,
      users,
      PENDING_STORE_DIR: env.PENDING_STORE_DIR ?? `.data/gateway-pending-${env.PORT}`,
    };
  });

/**
 * The gateway's environment. In production, missing, weak or shared secrets stop the start; each
 * upstream's resilience settings are parsed here at the edge (`RESILIENCE_MEMORY_*`,
 * `RESILIENCE_COGNITION_*` over the design's defaults, see @cortex/resilience), and a misspelt
 * `RESILIENCE_*` name stops the start with one line.
 */
export function loadGatewayEnv(source: NodeJS.ProcessEnv = process.env) {
  const env = loadEnv(gatewayEnvSchema, source, { keepEmpty: ['AUTH_USERS'] });
  checkSecrets(source, env.NODE_ENV, ['JWT_SECRET']);
  const { secrets, defaulted } = loadServiceSecrets(source, env.NODE_ENV, ['gateway']);
  const resilience = loadResilienceEnv(source, {
    // A Retry-After from memory is not waited out inside a client's request: the input is
    // journalled (the replayer honours it), and a read falls back.
    memory: { timeoutMs: env.UPSTREAM_TIMEOUT_MS, retry: { maxRetryAfterMs: 0 } },
    cognition: { timeoutMs: env.UPSTREAM_TIMEOUT_MS },
  });
  return {
    ...env,
    /** Its own service secrets; the first signs the gateway's calls to memory and cognition. */
    serviceSecrets: secrets as { gateway: string[] },
    /** Secret variables left unset (development secrets in use). */
    defaultedSecrets: defaulted,
    resilience,
  };
}

export type GatewayEnv = ReturnType<typeof loadGatewayEnv>;

/** The standard `OTEL_*` variables (docs/tracing.md); spans name this service by default. */
export const loadGatewayTracing = (source: NodeJS.ProcessEnv = process.env) =>
  parseTracingEnv(source, 'gateway');
