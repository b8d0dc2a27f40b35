import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  baseEnvSchema,
  EnvError,
  isProduction,
  loadEnv,
  nodeEnvSchema,
  portSchema,
  urlListSchema,
} from './env';

const schema = baseEnvSchema.extend({
  PORT: portSchema(9000),
  MEMORY_SERVICE_URL: urlListSchema('http://localhost:9000'),
});

describe('loadEnv', () => {
  it('applies defaults and splits URL lists', () => {
    const env = loadEnv(schema, { MEMORY_SERVICE_URL: 'http://a:1, http://b:2' });
    expect(env).toMatchObject({
      PORT: 9000,
      HOST: '127.0.0.1',
      MEMORY_SERVICE_URL: ['http://a:1', 'http://b:2'],
    });
  });

  it('fails with one line naming the variable', () => {
    const run = () => loadEnv(schema, { PORT: 'eighty' });
    expect(run).toThrow(EnvError);
    expect(run).toThrow(/^invalid environment variable PORT \("eighty"\): .+$/);
    expect(() => loadEnv(schema, { LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadEnv(schema, { MEMORY_SERVICE_URL: 'not a url' })).toThrow(/MEMORY_SERVICE_URL/);
  });

  it('treats empty strings as unset', () => {
    expect(loadEnv(z.object({ PORT: portSchema(1) }), { PORT: '' }).PORT).toBe(1);
  });

  it('reads NODE_ENV strictly: any case of development, test or production, nothing else', () => {
    const schema = z.object({ NODE_ENV: nodeEnvSchema });
    expect(loadEnv(schema, {}).NODE_ENV).toBe('development');
    expect(loadEnv(schema, { NODE_ENV: 'Production' }).NODE_ENV).toBe('production');
    expect(loadEnv(schema, { NODE_ENV: 'TEST' }).NODE_ENV).toBe('test');
    for (const value of ['prod', 'staging', 'production1', 'dev']) {
      expect(() => loadEnv(schema, { NODE_ENV: value }), value).toThrow(
        /^invalid environment variable NODE_ENV/,
      );
    }
  });

  it('names a secret variable without showing its value', () => {
    const secretive = z.object({
      JWT_SECRET: z.string().min(16),
      AUTH_USERS: z.string().regex(/^x/),
      DATABASE_URL: z.url(),
    });
    const valid = { JWT_SECRET: 'a-long-enough-secret', AUTH_USERS: 'x', DATABASE_URL: 'postgres://h/db' };
    for (const [variable, value] of [
      ['JWT_SECRET', 'hunter2-short'],
      ['AUTH_USERS', 'alice:pa55word'],
      ['DATABASE_URL', 'pa55word@nohost'],
    ] as const) {
      const run = () => loadEnv(secretive, { ...valid, [variable]: value });
      expect(run).toThrow(
        new RegExp(`^invalid environment variable ${variable} \\(\\d+ characters, not shown\\)`),
      );
      expect(run).not.toThrow(/hunter2|pa55word/);
    }
    // A setting that merely mentions tokens is shown as usual.
    expect(() => loadEnv(z.object({ TOKEN_TTL_S: z.coerce.number() }), { TOKEN_TTL_S: 'soon' })).toThrow(
      /TOKEN_TTL_S \("soon"\)/,
    );
  });
});

describe('nodeEnvSchema', () => {
  const withNodeEnv = z.object({ NODE_ENV: nodeEnvSchema });
  it('accepts the three environments in any case, defaulting to development', () => {
    expect(loadEnv(withNodeEnv, {}).NODE_ENV).toBe('development');
    expect(loadEnv(withNodeEnv, { NODE_ENV: 'Production' }).NODE_ENV).toBe('production');
    expect(loadEnv(withNodeEnv, { NODE_ENV: 'TEST' }).NODE_ENV).toBe('test');
    expect(isProduction(loadEnv(withNodeEnv, { NODE_ENV: 'PRODUCTION' }).NODE_ENV)).toBe(true);
    expect(isProduction(loadEnv(withNodeEnv, { NODE_ENV: 'development' }).NODE_ENV)).toBe(false);
  });

  it('refuses anything else rather than running as development', () => {
    for (const value of ['prod', 'staging', 'production ish'])
      expect(() => loadEnv(withNodeEnv, { NODE_ENV: value })).toThrow(
        /^invalid environment variable NODE_ENV/,
      );
  });
});

describe('loadEnv and secrets', () => {
  const secrets = z.object({
    JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    DATABASE_URL: z.url().optional(),
  });
  it('never prints a secret value in its message', () => {
    const run = () => loadEnv(secrets, { JWT_SECRET: 'hunter2-short' });
    expect(run).toThrow(/JWT_SECRET \(13 characters, not shown\): must be at least 16 characters/);
    expect(run).not.toThrow(/hunter2/);
    expect(() => loadEnv(secrets, { DATABASE_URL: 'postgres://u:pa ss@h/db' })).not.toThrow(/pa ss/);
  });

  it('keeps an empty string where asked, so "none" differs from "unset"', () => {
    const schema = z.object({ AUTH_USERS: z.string().optional() });
    expect(loadEnv(schema, { AUTH_USERS: '' }).AUTH_USERS).toBeUndefined();
    expect(loadEnv(schema, { AUTH_USERS: '' }, { keepEmpty: ['AUTH_USERS'] }).AUTH_USERS).toBe('');
  });
});

describe('loadResilienceEnv', () => {
  it("reads each upstream's settings over the service's typed defaults", async () => {
    const { loadResilienceEnv } = await import('./env');
    const r = loadResilienceEnv(
      { RESILIENCE_MEMORY_RETRY_MAX_RETRIES: '1', RESILIENCE_COGNITION_TIMEOUT_MS: '700' },
      { memory: { timeoutMs: 5_000 }, cognition: { timeoutMs: 3_000 } },
    );
    expect(r.memory.timeoutMs).toBe(5_000);
    expect(r.memory.retry.maxRetries).toBe(1);
    expect(r.cognition.timeoutMs).toBe(700);
  });

  it('refuses a misspelt RESILIENCE_* name at start, in one line naming it', async () => {
    const { loadResilienceEnv } = await import('./env');
    const load = (env: Record<string, string>) => () => loadResilienceEnv(env, { memory: {} });
    expect(load({ RESILIENCE_MEMORY_RETRIES: '3' })).toThrow(EnvError);
    expect(load({ RESILIENCE_MEMROY_TIMEOUT_MS: '3' })).toThrow(
      /^unknown environment variable RESILIENCE_MEMROY_TIMEOUT_MS: [^\n]*$/,
    );
    // The attempts-counting name of before is refused too, rather than silently ignored.
    expect(load({ RESILIENCE_MEMORY_RETRY_MAX_ATTEMPTS: '3' })).toThrow(/RETRY_MAX_ATTEMPTS/);
    // Another upstream of the system is not a typo: one environment serves every service.
    expect(load({ RESILIENCE_COGNITION_TIMEOUT_MS: '3' })).not.toThrow();
    expect(load({ RESILIENCE_MEMORY_BREAKER_OPEN_MS: 'soon' })).toThrow(
      /^invalid environment variable RESILIENCE_MEMORY_BREAKER_OPEN_MS \("soon"\)/,
    );
  });
});
