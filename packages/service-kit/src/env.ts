import {
  envServiceName,
  type ServicePolicyConfig,
  type ServicePolicyConfigInput,
  servicePolicyConfigFromEnv,
  UPSTREAM_DEFAULTS,
  unknownResilienceVariables,
} from '@cortex/resilience';
import { z } from 'zod';

/** Variables every service reads. Services extend this with their own. */
export const baseEnvSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/**
 * `NODE_ENV`, case-insensitively one of development|test|production (default development).
 * Anything else (`prod`, `staging`) is refused rather than silently run as development, which
 * would mean development secrets and demo users on a production host.
 */
export const nodeEnvSchema = z
  .string()
  .default('development')
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['development', 'test', 'production'], 'must be development, test or production'));

export type NodeEnv = z.infer<typeof nodeEnvSchema>;

/** Whether the (already parsed) NODE_ENV is production. */
export const isProduction = (nodeEnv: NodeEnv) => nodeEnv === 'production';

export const portSchema = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** A comma-separated list of URLs, each validated. */
export const urlListSchema = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url()).min(1));

// Variables whose values are credentials (or hold them): an error names them, never shows them.
const SENSITIVE = /SECRET|PASSWORD|(^|_)TOKEN$|KEY|CREDENTIAL|AUTH_USERS|DATABASE_URL/i;

/** Whether a variable's value must never appear in a message or a log line. */
const isSensitive = (variable: string) => SENSITIVE.test(variable);

export interface LoadEnvOptions {
  /** Variables for which an empty string is a value (e.g. "no users"), not "unset". */
  keepEmpty?: readonly string[];
}

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/**
 * Parses the environment or throws an EnvError whose message is one line naming the variable,
 * which is what an operator reads in a crash-looping container's log.
 */
export function loadEnv<S extends z.ZodType>(
  schema: S,
  source: NodeJS.ProcessEnv = process.env,
  options: LoadEnvOptions = {},
): z.infer<S> {
  // Empty strings mean "unset": compose files and shells produce them for absent values.
  const keep = new Set(options.keepEmpty ?? []);
  const cleaned = Object.fromEntries(Object.entries(source).filter(([k, v]) => v !== '' || keep.has(k)));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = issue?.path.join('.') || 'environment';
  const variable = typeof issue?.path[0] === 'string' ? issue.path[0] : undefined;
  const value = variable === undefined ? undefined : source[variable];
  const shown =
    value === undefined
      ? 'unset'
      : isSensitive(name)
        ? `${value.length} characters, not shown`
        : JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  throw new EnvError(`invalid environment variable ${name} (${shown}): ${issue?.message ?? 'invalid'}`);
}

/**
 * The resilience settings of each upstream this service calls, from `RESILIENCE_*` (see
 * @cortex/resilience), over this service's typed defaults for them. Refuses, with one line, a
 * bad value (naming its variable) and any `RESILIENCE_*` variable no upstream reads (a typo would
 * otherwise be ignored in silence). Names of the system's other upstreams are accepted, so one
 * environment can serve every service.
 */
export function loadResilienceEnv<N extends string>(
  source: NodeJS.ProcessEnv,
  upstreams: Record<N, ServicePolicyConfigInput>,
): Record<N, ServicePolicyConfig> {
  const names = [...new Set([...Object.keys(upstreams), ...Object.keys(UPSTREAM_DEFAULTS)])];
  const unknown = unknownResilienceVariables(source, names);
  if (unknown.length > 0) {
    const known = names.map((n) => `RESILIENCE_${envServiceName(n)}_*`).join(', ');
    throw new EnvError(
      `unknown environment variable ${unknown.join(', ')}: not a resilience setting (known: RESILIENCE_CONFIG, ${known}; see packages/resilience/README.md)`,
    );
  }
  const out = {} as Record<N, ServicePolicyConfig>;
  for (const name of Object.keys(upstreams) as N[]) {
    try {
      out[name] = servicePolicyConfigFromEnv(source, name, upstreams[name]);
    } catch (err) {
      throw new EnvError((err as Error).message);
    }
  }
  return out;
}
