import { baseEnvSchema, loadEnv, loadServiceSecrets, nodeEnvSchema, portSchema } from '@cortex/service-kit';
import { parseTracingEnv } from '@cortex/telemetry';
import { z } from 'zod';

export const memoryEnvSchema = baseEnvSchema.extend({
  NODE_ENV: nodeEnvSchema,
  /** Service secrets (comma-separated for rotation), checked by loadServiceSecrets. */
  GATEWAY_SERVICE_SECRET: z.string().optional(),
  COGNITION_SERVICE_SECRET: z.string().optional(),
  PORT: portSchema(9000),
  DATABASE_URL: z.string().url().optional(),
  /** Where the embedded PGlite keeps its files when DATABASE_URL is unset. */
  PGLITE_DATA_DIR: z.string().default('.data/memory-pglite'),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  DB_POOL_MAX: z.coerce.number().int().positive().default(20),
  /** Longest wait between two checks of an unavailable database (they back off up to this). */
  DB_RETRY_MAX_MS: z.coerce.number().int().positive().default(2000),
  /** Database size that /health measures against: `warning` from 90%. Unset: no quota check. */
  STORAGE_QUOTA_BYTES: z.coerce.number().int().positive().optional(),
  /** Embedded database only: /health warns when its disk has less free than either bound. */
  DISK_WARN_FREE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024 * 1024 * 1024),
  DISK_WARN_FREE_RATIO: z.coerce.number().min(0).max(1).default(0.05),
  GROUP_COMMIT_MAX_BATCH: z.coerce.number().int().positive().default(500),
  /** Batches written at once; they serialise on the event lock, so more than 2 buys little. */
  GROUP_COMMIT_WRITERS: z.coerce.number().int().min(1).max(16).default(1),
  /** `off`: one transaction per input, for benchmarks. */
  GROUP_COMMIT: z.enum(['on', 'off']).default('on'),
  /**
   * Largest request body. Above the gateway's 1 MiB: an input of that size arrives wrapped in a
   * tool call, and the gateway's batches go up to 1 MiB of inputs plus their envelopes.
   */
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** Most matching inputs one search ranks (the cost bound of `search_inputs`). */
  SEARCH_CANDIDATES: z.coerce.number().int().min(10).max(10_000).default(200),
  /** Statement timeout of one search; a search over it answers 503. */
  SEARCH_TIMEOUT_MS: z.coerce.number().int().positive().default(1000),
  /** Feed followers re-read at least this often even without a notification. */
  FEED_POLL_MS: z.coerce.number().int().positive().default(5000),
});

export type MemoryEnv = z.infer<typeof memoryEnvSchema> & {
  /** Secrets that verify the gateway's and cognition's service tokens (current first). */
  serviceSecrets: { gateway: string[]; cognition: string[] };
  /** Secret variables left unset (development secrets in use). */
  defaultedSecrets: string[];
};

/** Parses the environment; in production, missing, weak or shared secrets stop the start. */
export function loadMemoryEnv(source: NodeJS.ProcessEnv = process.env): MemoryEnv {
  const env = loadEnv(memoryEnvSchema, source);
  const { secrets, defaulted } = loadServiceSecrets(source, env.NODE_ENV, ['gateway', 'cognition']);
  return { ...env, serviceSecrets: secrets, defaultedSecrets: defaulted };
}

/** The standard `OTEL_*` variables (docs/tracing.md); spans name this service by default. */
export const loadMemoryTracing = (source: NodeJS.ProcessEnv = process.env) =>
  parseTracingEnv(source, 'memory');
