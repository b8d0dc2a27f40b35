import { CortexError, ERROR_CODES, type ErrorCode } from '@cortex/errors';
import { z } from 'zod';
import { upstreamDefaults } from './upstream-defaults';

const errorCodes = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

const ms = () => z.number().nonnegative();

const budgetSchema = z.strictObject({
  enabled: z.boolean().default(true),
  ratio: z.number().min(0).max(10).default(0.2),
  minRetriesPerSecond: z.number().min(0).default(1),
  windowMs: z.number().positive().default(10_000),
});

const retrySchema = z.strictObject({
  /** Retries after the first attempt, as the design counts them (0 = one attempt only). */
  maxRetries: z.number().int().min(0).max(19).default(2),
  baseDelayMs: ms().default(100),
  /** Backoff growth per attempt: base · multiplier^(retry-1). */
  multiplier: z.number().min(1).max(10).default(2),
  maxDelayMs: ms().default(10_000),
  jitter: z.enum(['full', 'equal', 'decorrelated', 'none']).default('full'),
  /**
   * Which error kinds (codes) are retried. Default: every kind `isRetriable` allows. A listed kind
   * is still never retried when classification forbids it (circuit_open, 4xx, noRetry).
   */
  retryOn: z.array(z.enum(errorCodes)).min(1).optional(),
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
const servicePolicyConfigSchema = z.strictObject({
  /** TCP connect (and TLS) to an instance; a connect that takes longer is a `connection` error. */
  connectTimeoutMs: z.number().positive().default(2_000),
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

/**
 * `retry.maxRetries` → `RETRY_MAX_RETRIES`; every variable the scheme reads, derived from the
 * schema. `list` fields take comma-separated values (`RETRY_RETRY_ON=timeout,connection`).
 */
export function envKeys(): { path: string[]; key: string; list: boolean }[] {
  const out: { path: string[]; key: string; list: boolean }[] = [];
  const walk = (shape: Record<string, z.ZodType>, path: string[]) => {
    for (const [field, raw] of Object.entries(shape)) {
      let type: z.ZodType = raw;
      while (type instanceof z.ZodDefault || type instanceof z.ZodPrefault || type instanceof z.ZodOptional) {
        type = type.unwrap() as z.ZodType;
      }
      if (type instanceof z.ZodObject) walk(type.shape, [...path, field]);
      else {
        const p = [...path, field];
        out.push({
          path: p,
          key: p.map((s) => s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()).join('_'),
          list: type instanceof z.ZodArray,
        });
      }
    }
  };
  walk(servicePolicyConfigSchema.shape, []);
  return out;
}

/**
 * The config of upstream `name` as this service's environment sets it (the only place the
 * environment is read; `createServicePolicy` takes the typed result). Later sources win:
 *   1. the library's defaults;
 *   2. the upstream's defaults (`UPSTREAM_DEFAULTS[name]`, the design's per-service figures);
 *   3. `overrides`, this service's own choices for the upstream (typed, from its env.ts);
 *   4. `RESILIENCE_CONFIG` (JSON) key `"default"`, then key `"<name>"`;
 *   5. one variable per field: `RESILIENCE_<NAME>_<FIELD>`, e.g. `RESILIENCE_MEMORY_RETRY_MAX_RETRIES=5`,
 *      `RESILIENCE_MEMORY_TIMEOUT_MS=2000`, `RESILIENCE_MEMORY_RETRY_RETRY_ON=timeout,connection`.
 * A bad value throws a one-line CortexError naming the variable that set it.
 */
export function servicePolicyConfigFromEnv(
  env: Record<string, string | undefined>,
  name: string,
  overrides: ServicePolicyConfigInput = {},
): ServicePolicyConfig {
  let merged: Record<string, unknown> = deepMerge({}, upstreamDefaults(name));
  merged = deepMerge(merged, overrides);
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
  // Which variable set which field, so that an error names what the operator wrote.
  const setBy = new Map<string, string>();
  for (const { path, key, list } of envKeys()) {
    const value = env[prefix + key];
    if (value === undefined || value === '') continue;
    let target = merged;
    for (const segment of path.slice(0, -1)) {
      if (!isRecord(target[segment])) target[segment] = {};
      target = target[segment] as Record<string, unknown>;
    }
    target[path.at(-1)!] = list
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
      : coerce(value);
    setBy.set(path.join('.'), prefix + key);
  }
  const parsed = servicePolicyConfigSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.filter((p) => typeof p === 'string').join('.') ?? '';
  const variable = setBy.get(field);
  const message = issue?.message ?? 'invalid';
  if (variable !== undefined) {
    const raw = env[variable] ?? '';
    const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);
    throw new CortexError(
      'internal_error',
      `invalid environment variable ${variable} (${shown}): ${message}`,
      {
        details: { variable, field },
      },
    );
  }
  return parseConfig(merged, name);
}

/**
 * `RESILIENCE_*` variables that no upstream in `names` reads: typos (`RESILIENCE_MEMORY_RETRIES`,
 * `RESILIENCE_MEMROY_TIMEOUT_MS`) that would otherwise be ignored in silence. A service refuses
 * to start with any of them set.
 */
export function unknownResilienceVariables(
  env: Record<string, string | undefined>,
  names: readonly string[],
): string[] {
  const known = new Set(['RESILIENCE_CONFIG']);
  const keys = envKeys();
  for (const name of names) {
    for (const { key } of keys) known.add(`RESILIENCE_${envServiceName(name)}_${key}`);
  }
  return Object.keys(env)
    .filter((k) => k.startsWith('RESILIENCE_') && !known.has(k))
    .sort();
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
