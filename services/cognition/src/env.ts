import { baseEnvSchema, loadEnv, portSchema, urlListSchema } from '@cortex/service-kit';
import { z } from 'zod';

export const cognitionEnvSchema = baseEnvSchema.extend({
  PORT: portSchema(9100),
  MEMORY_SERVICE_URL: urlListSchema('http://localhost:9000'),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  /** How many recent inputs context building looks at. */
  CONTEXT_WINDOW: z.coerce.number().int().min(1).max(1000).default(200),
});

export type CognitionEnv = z.infer<typeof cognitionEnvSchema>;

export const loadCognitionEnv = (source: NodeJS.ProcessEnv = process.env) =>
  loadEnv(cognitionEnvSchema, source);
