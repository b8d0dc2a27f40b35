import type { ServicePolicyConfig } from '@cortex/resilience';
import {
  baseEnvSchema,
  EnvError,
  loadEnv,
  loadResilienceEnv,
  loadServiceSecrets,
  nodeEnvSchema,
  portSchema,
  urlListSchema,
} from '@cortex/service-kit';
import { parseTracingEnv } from '@cortex/telemetry';
import { z } from 'zod';
import { parseBackendSpecs, resolveApiKeys } from './models/backend-config';

export const cognitionEnvSchema = baseEnvSchema.extend({
  NODE_ENV: nodeEnvSchema,
  /** Service secrets (comma-separated for rotation), checked by loadServiceSecrets. */
  COGNITION_SERVICE_SECRET: z.string().optional(),
  GATEWAY_SERVICE_SECRET: z.string().optional(),
  PORT: portSchema(9100),
  MEMORY_SERVICE_URL: urlListSchema('http://localhost:9000'),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  /**
   * Most characters of each input that memory's search sends back (and cognition ranks): with at
   * most 100 matches per search, this bounds a search's work in cognition's event loop.
   */
  SEARCH_MAX_CHARS: z.coerce.number().int().min(100).max(2000).default(1000),
  /** How many messages of a conversation analyze_conversation reads. */
  CONVERSATION_WINDOW: z.coerce.number().int().min(1).max(1000).default(500),
  /** Remote model backends, tried in order before the local analyser (see README). */
  MODEL_BACKENDS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseBackendSpecs(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /** Per-call timeout of a remote backend. */
  MODEL_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** Consecutive failures that open a backend's circuit. */
  MODEL_BREAKER_FAILURES: z.coerce.number().int().min(1).default(3),
  /** How long an open circuit rejects calls before letting a probe through (doubles per failed probe). */
  MODEL_BREAKER_OPEN_MS: z.coerce.number().int().positive().default(30_000),
  /** Most characters of conversation text sent to a remote backend (the newest are kept). */
  MODEL_MAX_INPUT_CHARS: z.coerce.number().int().min(100).default(12_000),
  /** The built-in analyser, always last in the chain; `off` only makes sense with MODEL_BACKENDS. */
  LOCAL_ANALYSER: z.enum(['on', 'off']).default('on'),
});

export type CognitionEnv = z.infer<typeof cognitionEnvSchema> & {
  /** Its own secrets (the first signs calls to memory) and the gateway's (verify its calls). */
  serviceSecrets: { gateway: string[]; cognition: string[] };
  /** Secret variables left unset (development secrets in use). */
  defaultedSecrets: string[];
  /** Memory's resilience settings (`RESILIENCE_MEMORY_*` over the design's defaults). */
  resilience: { memory: ServicePolicyConfig };
};

/**
 * Parses the environment. API keys are read here, by the variable names MODEL_BACKENDS gives, so a
 * missing key stops the start-up (naming MODEL_BACKENDS) instead of failing every call later.
 */
export function loadCognitionEnv(source: NodeJS.ProcessEnv = process.env): CognitionEnv {
  const parsed = loadEnv(cognitionEnvSchema, source);
  const { secrets, defaulted } = loadServiceSecrets(source, parsed.NODE_ENV, ['cognition', 'gateway']);
  const env = {
    ...parsed,
    serviceSecrets: secrets,
    defaultedSecrets: defaulted,
    resilience: loadResilienceEnv(source, { memory: { timeoutMs: parsed.UPSTREAM_TIMEOUT_MS } }),
  };
  if (env.LOCAL_ANALYSER === 'off' && env.MODEL_BACKENDS.length === 0) {
    throw new EnvError(
      'invalid environment variable LOCAL_ANALYSER ("off"): needs at least one MODEL_BACKENDS entry',
    );
  }
  try {
    return { ...env, MODEL_BACKENDS: resolveApiKeys(env.MODEL_BACKENDS, source) };
  } catch (err) {
    throw new EnvError(`invalid environment variable MODEL_BACKENDS: ${(err as Error).message}`);
  }
}

/** The standard `OTEL_*` variables (docs/tracing.md); spans name this service by default. */
export const loadCognitionTracing = (source: NodeJS.ProcessEnv = process.env) =>
  parseTracingEnv(source, 'cognition');
