import { hasCode } from '@cortex/errors';
import { describe, expect, it } from 'vitest';
import { envKeys, envServiceName, parseConfig, parseServicePolicyConfig } from './config';

describe('service policy config', () => {
  it('fills every default from an empty object', () => {
    const c = parseConfig({});
    expect(c.timeoutMs).toBe(10_000);
    expect(c.totalTimeoutMs).toBeUndefined();
    expect(c.retry).toMatchObject({ maxAttempts: 3, jitter: 'full', maxRetryAfterMs: 30_000 });
    expect(c.retry.budget).toEqual({ enabled: true, ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000 });
    expect(c.breaker).toMatchObject({
      enabled: true,
      mode: 'consecutive',
      failureThreshold: 5,
      halfOpenMaxProbes: 1,
    });
    expect(c.bulkhead).toMatchObject({ enabled: false, maxConcurrent: 64, maxQueue: 64 });
  });

  it('rejects typos and bad values, naming the field', () => {
    expect(() => parseConfig({ retry: { maxAttempt: 3 } }, 'memory')).toThrow(/memory.*retry/);
    try {
      parseConfig({ breaker: { failureRateThreshold: 2 } });
      expect.unreachable();
    } catch (err) {
      expect(hasCode(err, 'internal_error')).toBe(true);
      expect(String((err as Error).message)).toContain('breaker.failureRateThreshold');
    }
  });

  it('derives one env variable per field', () => {
    const keys = envKeys().map((k) => k.key);
    expect(keys).toContain('RETRY_MAX_ATTEMPTS');
    expect(keys).toContain('RETRY_BUDGET_MIN_RETRIES_PER_SECOND');
    expect(keys).toContain('BREAKER_SLOW_CALL_MS');
    expect(keys).toContain('TIMEOUT_MS');
    expect(envServiceName('memory-service')).toBe('MEMORY_SERVICE');
  });

  it('reads RESILIENCE_CONFIG, then per-field variables, later winning', () => {
    const env = {
      RESILIENCE_CONFIG: JSON.stringify({
        default: { timeoutMs: 2_000, retry: { maxAttempts: 2 } },
        memory: { retry: { jitter: 'equal' }, breaker: { mode: 'rate' } },
      }),
      RESILIENCE_MEMORY_RETRY_MAX_ATTEMPTS: '5',
      RESILIENCE_MEMORY_BREAKER_SLOW_CALL_MS: '250',
      RESILIENCE_MEMORY_BULKHEAD_ENABLED: 'true',
      RESILIENCE_COGNITION_TIMEOUT_MS: '1',
    };
    const c = parseServicePolicyConfig('memory', env);
    expect(c.timeoutMs).toBe(2_000);
    expect(c.retry.maxAttempts).toBe(5);
    expect(c.retry.jitter).toBe('equal');
    expect(c.breaker.mode).toBe('rate');
    expect(c.breaker.slowCallMs).toBe(250);
    expect(c.bulkhead.enabled).toBe(true);
    expect(parseServicePolicyConfig('cognition', env).retry.maxAttempts).toBe(2);
  });

  it('reports bad env values by variable path', () => {
    expect(() =>
      parseServicePolicyConfig('memory', { RESILIENCE_MEMORY_RETRY_MAX_ATTEMPTS: 'lots' }),
    ).toThrow(/retry\.maxAttempts/);
    expect(() => parseServicePolicyConfig('memory', { RESILIENCE_CONFIG: '{' })).toThrow(/not valid JSON/);
  });
});
