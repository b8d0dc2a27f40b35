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
