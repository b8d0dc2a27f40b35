import { hasCode } from '@cortex/errors';
import { describe, expect, it } from 'vitest';
import {
  envKeys,
  envServiceName,
  parseConfig,
  servicePolicyConfigFromEnv,
  unknownResilienceVariables,
} from './config';
import { UPSTREAM_DEFAULTS } from './upstream-defaults';

describe('service policy config', () => {
  it('fills every default from an empty object', () => {
    const c = parseConfig({});
    expect(c.timeoutMs).toBe(10_000);
    expect(c.totalTimeoutMs).toBeUndefined();
    expect(c.connectTimeoutMs).toBe(2_000);
    expect(c.retry).toMatchObject({ maxRetries: 2, multiplier: 2, jitter: 'full', maxRetryAfterMs: 30_000 });
    expect(c.retry.retryOn).toBeUndefined();
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
    expect(() => parseConfig({ retry: { maxRetry: 3 } }, 'memory')).toThrow(/memory.*retry/);
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
    expect(keys).toContain('RETRY_MAX_RETRIES');
    expect(keys).toContain('RETRY_RETRY_ON');
    expect(keys).toContain('CONNECT_TIMEOUT_MS');
    expect(keys).toContain('RETRY_BUDGET_MIN_RETRIES_PER_SECOND');
    expect(keys).toContain('BREAKER_SLOW_CALL_MS');
    expect(keys).toContain('TIMEOUT_MS');
    expect(envServiceName('memory-service')).toBe('MEMORY_SERVICE');
  });

  it('reads RESILIENCE_CONFIG, then per-field variables, later winning', () => {
    const env = {
      RESILIENCE_CONFIG: JSON.stringify({
        default: { timeoutMs: 2_000, retry: { maxRetries: 1 } },
        memory: { retry: { jitter: 'equal' }, breaker: { mode: 'rate' } },
      }),
      RESILIENCE_MEMORY_RETRY_MAX_RETRIES: '5',
      RESILIENCE_MEMORY_BREAKER_SLOW_CALL_MS: '250',
      RESILIENCE_MEMORY_BULKHEAD_ENABLED: 'true',
      RESILIENCE_COGNITION_TIMEOUT_MS: '1',
    };
    const c = servicePolicyConfigFromEnv(env, 'memory');
    expect(c.timeoutMs).toBe(2_000);
    expect(c.retry.maxRetries).toBe(5);
    expect(c.retry.jitter).toBe('equal');
    expect(c.breaker.mode).toBe('rate');
    expect(c.breaker.slowCallMs).toBe(250);
    expect(c.bulkhead.enabled).toBe(true);
    expect(servicePolicyConfigFromEnv(env, 'cognition').retry.maxRetries).toBe(1);
  });

  it('reports bad env values by variable path', () => {
    expect(() =>
      servicePolicyConfigFromEnv({ RESILIENCE_MEMORY_RETRY_MAX_RETRIES: 'lots' }, 'memory'),
    ).toThrow(/^invalid environment variable RESILIENCE_MEMORY_RETRY_MAX_RETRIES \("lots"\): /);
    expect(() => servicePolicyConfigFromEnv({ RESILIENCE_CONFIG: '{' }, 'memory')).toThrow(/not valid JSON/);
  });

  // Every knob the design configures, each set through its own variable and read back.
  const knobs: [string, string, (c: ReturnType<typeof parseConfig>) => unknown, unknown][] = [
    ['CONNECT_TIMEOUT_MS', '750', (c) => c.connectTimeoutMs, 750],
    ['TIMEOUT_MS', '1200', (c) => c.timeoutMs, 1200],
    ['TOTAL_TIMEOUT_MS', '4000', (c) => c.totalTimeoutMs, 4000],
    ['RETRY_MAX_RETRIES', '0', (c) => c.retry.maxRetries, 0],
    ['RETRY_BASE_DELAY_MS', '25', (c) => c.retry.baseDelayMs, 25],
    ['RETRY_MULTIPLIER', '1.5', (c) => c.retry.multiplier, 1.5],
    ['RETRY_MAX_DELAY_MS', '900', (c) => c.retry.maxDelayMs, 900],
    ['RETRY_JITTER', 'decorrelated', (c) => c.retry.jitter, 'decorrelated'],
    ['RETRY_RETRY_ON', 'timeout, connection', (c) => c.retry.retryOn, ['timeout', 'connection']],
    ['BREAKER_FAILURE_THRESHOLD', '7', (c) => c.breaker.failureThreshold, 7],
    ['BREAKER_OPEN_MS', '1500', (c) => c.breaker.openMs, 1500],
    ['BREAKER_MAX_OPEN_MS', '45000', (c) => c.breaker.maxOpenMs, 45_000],
    ['BREAKER_HALF_OPEN_MAX_PROBES', '4', (c) => c.breaker.halfOpenMaxProbes, 4],
  ];
  it.each(knobs)('RESILIENCE_MEMORY_%s=%s is read', (key, value, read, expected) => {
    const c = servicePolicyConfigFromEnv({ [`RESILIENCE_MEMORY_${key}`]: value }, 'memory');
    expect(read(c)).toEqual(expected);
    // …and it is not the default, so the test could fail.
    expect(read(servicePolicyConfigFromEnv({}, 'memory'))).not.toEqual(expected);
  });

  it.each([
    ['RETRY_MAX_RETRIES', '-1'],
    ['RETRY_MULTIPLIER', '0.5'],
    ['RETRY_JITTER', 'sometimes'],
    ['RETRY_RETRY_ON', 'timeout,gremlins'],
    ['CONNECT_TIMEOUT_MS', '0'],
    ['BREAKER_HALF_OPEN_MAX_PROBES', '0'],
  ])('refuses RESILIENCE_MEMORY_%s=%s naming the variable', (key, value) => {
    expect(() => servicePolicyConfigFromEnv({ [`RESILIENCE_MEMORY_${key}`]: value }, 'memory')).toThrow(
      new RegExp(`^invalid environment variable RESILIENCE_MEMORY_${key} `),
    );
  });

  it("fills the design's per-upstream defaults, which the environment overrides", () => {
    const memory = servicePolicyConfigFromEnv({}, 'memory');
    expect(memory.retry).toMatchObject({ maxRetries: 3, multiplier: 2 });
    expect(memory.breaker).toMatchObject({ failureThreshold: 5, maxOpenMs: 30_000, halfOpenMaxProbes: 3 });
    const cognition = servicePolicyConfigFromEnv({}, 'cognition');
    expect(cognition.retry).toMatchObject({ maxRetries: 2, multiplier: 1.5 });
    expect(cognition.breaker).toMatchObject({ failureThreshold: 3, maxOpenMs: 15_000, halfOpenMaxProbes: 2 });
    expect(memory.totalTimeoutMs).toBe(UPSTREAM_DEFAULTS.memory.totalTimeoutMs);
    // A service's typed overrides sit between the upstream's defaults and the environment.
    const overridden = servicePolicyConfigFromEnv({ RESILIENCE_MEMORY_TIMEOUT_MS: '300' }, 'memory', {
      timeoutMs: 5_000,
      retry: { maxRetryAfterMs: 0 },
    });
    expect(overridden.timeoutMs).toBe(300);
    expect(overridden.retry.maxRetryAfterMs).toBe(0);
    expect(overridden.retry.maxRetries).toBe(3);
    // An unknown upstream gets the library's defaults.
    expect(servicePolicyConfigFromEnv({}, 'search').retry.maxRetries).toBe(2);
  });

  it('finds RESILIENCE_* variables that nothing reads (typos)', () => {
    const env = {
      RESILIENCE_CONFIG: '{}',
      RESILIENCE_MEMORY_TIMEOUT_MS: '1',
      RESILIENCE_COGNITION_RETRY_MAX_RETRIES: '1',
      RESILIENCE_MEMORY_RETRIES: '3',
      RESILIENCE_MEMROY_TIMEOUT_MS: '1',
      RESILIENCE_MEMORY_RETRY_MAX_ATTEMPTS: '4',
      PATH: '/bin',
    };
    expect(unknownResilienceVariables(env, ['memory', 'cognition'])).toEqual([
      'RESILIENCE_MEMORY_RETRIES',
      'RESILIENCE_MEMORY_RETRY_MAX_ATTEMPTS',
      'RESILIENCE_MEMROY_TIMEOUT_MS',
    ]);
    expect(unknownResilienceVariables(env, ['memory'])).toContain('RESILIENCE_COGNITION_RETRY_MAX_RETRIES');
  });
});

describe('the README', () => {
  it('lists every RESILIENCE_<UPSTREAM>_<KNOB> in its one table', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const rows = new Set([...readme.matchAll(/^\| `([A-Z_]+)`\s+\|/gm)].map((m) => m[1]));
    const missing = envKeys()
      .map((k) => k.key)
      .filter((key) => !rows.has(key));
    expect(missing).toEqual([]);
  });
});
