import { baseEnvSchema, loadEnv, portSchema } from '@cortex/service-kit';
import { z } from 'zod';

export const memoryEnvSchema = baseEnvSchema.extend({
  PORT: portSchema(9000),
  DATABASE_URL: z.string().url().optional(),
  /** Where the embedded PGlite keeps its files when DATABASE_URL is unset. */
  PGLITE_DATA_DIR: z.string().default('.data/memory-pglite'),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  DB_POOL_MAX: z.coerce.number().int().positive().default(20),
  GROUP_COMMIT_MAX_BATCH: z.coerce.number().int().positive().default(500),
  /** 0 turns group commit off (one transaction per input), for benchmarks. */
  GROUP_COMMIT: z.enum(['on', 'off']).default('on'),
});

export type MemoryEnv = z.infer<typeof memoryEnvSchema>;

export const loadMemoryEnv = (source: NodeJS.ProcessEnv = process.env) => loadEnv(memoryEnvSchema, source);
