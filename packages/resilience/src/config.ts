import { CortexError } from '@cortex/errors';
import { z } from 'zod';

const ms = () => z.number().nonnegative();

const budgetSchema = z.strictObject({
  enabled: z.boolean().default(true),
  ratio: z.number().min(0).max(10).default(0.2),
  minRetriesPerSecond: z.number().min(0).default(1),
  windowMs: z.number().positive().default(10_000),
});

const retrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(20).default(3),
  baseDelayMs: ms().default(100),
  maxDelayMs: ms().default(10_000),
  jitter: z.enum(['full', 'equal', 'decorrelated', 'none']).default('full'),
  maxRetryAfterMs: ms().default(30_000),
  budget: budgetSchema.prefault({}),
});

const breakerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  mode: z.enum(['consecutive', 'rate']).default('consecutive'),
  failureThreshold: z.number().int().min(1).default(5),
  failureRateThreshold: z.number().gt(0).max(1).default(0.5),
  minimumCalls: z.number().int().min(1).default(20),
  windowMs: z.number().positive().default(10_000),
  openMs: ms().default(5_000),
  maxOpenMs: ms().default(60_000),
  openBackoffFactor: z.number().min(1).default(2),
  halfOpenMaxProbes: z.number().int().min(1).default(1),
  successThreshold: z.number().int().min(1).default(1),
  probeTimeoutMs: z.number().positive().default(10_000),
  slowCallMs: z.number().positive().optional(),
});

const bulkheadSchema = z.strictObject({
  enabled: z.boolean().default(false),
  maxConcurrent: z.number().int().min(1).default(64),
  maxQueue: z.number().int().min(0).default(64),
  maxQueueWaitMs: z.number().positive().optional(),
});

/** One dependency's resilience settings; every field has a default, so `{}` is valid. */
export const servicePolicyConfigSchema = z.strictObject({
  /** Per attempt; 0 disables the attempt timeout (the caller's deadline still applies). */
  timeoutMs: ms().default(10_000),
  /** Caps the whole call, retries and waits included. Default: only the caller's deadline. */
  totalTimeoutMs: z.number().positive().optional(),
  retry: retrySchema.prefault({}),
  breaker: breakerSchema.prefault({}),
  bulkhead: bulkheadSchema.prefault({}),
});

export type ServicePolicyConfig = z.output<typeof servicePolicyConfigSchema>;
export type ServicePolicyConfigInput = z.input<typeof servicePolicyConfigSchema>;

/** Defaults filled in; throws a CortexError naming every bad field. */
export function parseConfig(input: unknown, name = 'service'): ServicePolicyConfig {
  const parsed = servicePolicyConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new CortexError('internal_error', `invalid resilience config for "${name}": ${issues.join('; ')}`, {
    details: issues,
  });
}

/** `memory-service` → `MEMORY_SERVICE`. */
export function envServiceName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** `retry.maxAttempts` → `RETRY_MAX_ATTEMPTS`; every variable the scheme reads, derived from the schema. */
export function envKeys(): { path: string[]; key: string }[] {
  const out: { path: string[]; key: string }[] = [];
  const walk = (shape: Record<string, z.ZodType>, path: string[]) => {
    for (const [field, raw] of Object.entries(shape)) {
      let type: z.ZodType = raw;
      while (type instanceof z.ZodDefault || type instanceof z.ZodPrefault || type instanceof z.ZodOptional) {
        type = type.unwrap() as z.ZodType;
      }
      if (type instanceof z.ZodObject) walk(type.shape, [...path, field]);
      else {
        const p = [...path, field];
        out.push({ path: p, key: p.map((s) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join('_') });
      }
    }
  };
  walk(servicePolicyConfigSchema.shape, []);
  return out;
}

/**
 * A service's config from the environment. Later sources win:
 *   1. the defaults;
 *   2. `RESILIENCE_CONFIG` (JSON) key `"default"`, then key `"<name>"`;
 *   3. one variable per field: `RESILIENCE_<NAME>_<FIELD>`, e.g. `RESILIENCE_MEMORY_RETRY_MAX_ATTEMPTS=5`,
 *      `RESILIENCE_MEMORY_TIMEOUT_MS=2000`, `RESILIENCE_MEMORY_BREAKER_MODE=rate`.
 */
export function parseServicePolicyConfig(
  name: string,
  env: Record<string, string | undefined> = process.env,
): ServicePolicyConfig {
  let merged: Record<string, unknown> = {};
  const json = env.RESILIENCE_CONFIG;
  if (json !== undefined && json.trim() !== '') {
    let all: unknown;
    try {
      all = JSON.parse(json);
    } catch (err) {
      throw new CortexError('internal_error', 'RESILIENCE_CONFIG is not valid JSON', { cause: err });
    }
    if (!isRecord(all)) throw new CortexError('internal_error', 'RESILIENCE_CONFIG must be a JSON object');
    merged = deepMerge(merged, all.default);
    merged = deepMerge(merged, all[name]);
  }
  const prefix = `RESILIENCE_${envServiceName(name)}_`;
  for (const { path, key } of envKeys()) {
    const value = env[prefix + key];
    if (value === undefined || value === '') continue;
    let target = merged;
    for (const segment of path.slice(0, -1)) {
      if (!isRecord(target[segment])) target[segment] = {};
      target = target[segment] as Record<string, unknown>;
    }
    target[path.at(-1)!] = coerce(value);
  }
  return parseConfig(merged, name);
}

// The schema, not this guess, decides what is valid: a wrong type still fails with the field named.
function coerce(value: string): unknown {
  const v = value.trim();
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, over: unknown): Record<string, unknown> {
  if (!isRecord(over)) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isRecord(v) ? deepMerge(isRecord(out[k]) ? (out[k] as Record<string, unknown>) : {}, v) : v;
  }
  return out;
}
