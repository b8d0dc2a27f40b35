import { z } from 'zod';

/** Variables every service reads. Services extend this with their own. */
export const baseEnvSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

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

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/**
 * Parses the environment or throws an EnvError whose message is one line naming the variable,
 * which is what an operator reads in a crash-looping container's log.
 */
export function loadEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings mean "unset": compose files and shells produce them for absent values.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = issue?.path.join('.') || 'environment';
  const value = typeof issue?.path[0] === 'string' ? source[issue.path[0]] : undefined;
  const shown =
    value === undefined ? 'unset' : JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  throw new EnvError(`invalid environment variable ${name} (${shown}): ${issue?.message ?? 'invalid'}`);
}
