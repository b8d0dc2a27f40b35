import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseEnvSchema, EnvError, loadEnv, portSchema, urlListSchema } from './env';

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
