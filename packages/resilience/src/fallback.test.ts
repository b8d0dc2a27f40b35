import { CortexError, hasCode } from '@cortex/errors';
import { FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { ResilienceEvent } from './events';
import { withFallback } from './fallback';
import { createServicePolicy } from './policy-for-service';

const down = () => Promise.reject(new CortexError('connection', 'down'));

describe('FallbackPolicy', () => {
  it('answers with a static value', async () => {
    const policy = withFallback(undefined, { value: [] as string[] });
    await expect(policy.execute(down)).resolves.toEqual([]);
    await expect(policy.execute(async () => ['x'])).resolves.toEqual(['x']);
  });

  it('computes an answer from the classified error', async () => {
    const policy = withFallback(undefined, { compute: (err) => `degraded: ${err.code}` });
    const raw = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    await expect(policy.execute(() => Promise.reject(raw))).resolves.toBe('degraded: connection');
  });

  it('serves the last good answer while it is fresh enough', async () => {
    const clock = new FakeClock();
    const policy = withFallback(undefined, { lastGood: { maxAgeMs: 1_000 }, clock });
    expect(hasCode(await rejection(policy.execute(down)), 'connection')).toBe(true);
    await policy.execute(async () => 'v1');
    clock.advance(1_000);
    await expect(policy.execute(down)).resolves.toBe('v1');
    clock.advance(1);
    expect(hasCode(await rejection(policy.execute(down)), 'connection')).toBe(true);
  });

  it('tries alternatives in order before anything else', async () => {
    const events: ResilienceEvent[] = [];
    const tried: string[] = [];
    const policy = withFallback(undefined, {
      alternatives: [
        async () => {
          tried.push('replica');
          throw new Error('also down');
        },
        async (_ctx, err) => {
          tried.push(`cache after ${err.code}`);
          return 'cached';
        },
      ],
      value: 'static',
    });
    policy.events.on((e) => events.push(e));
    await expect(policy.execute(down)).resolves.toBe('cached');
    expect(tried).toEqual(['replica', 'cache after connection']);
    expect(events).toEqual([{ type: 'fallback', code: 'connection', source: 'chain' }]);
  });

  it('runs the inner policy through its execute, so its own deadline and events apply', async () => {
    const clock = new FakeClock();
    const inner = createServicePolicy({ totalTimeoutMs: 500, timeoutMs: 0 }, { clock });
    const policy = withFallback(inner, { value: -1 });
    await expect(policy.execute(async (ctx) => ctx.deadline ?? 0)).resolves.toBe(500);
  });

  it("does not hide the caller's own errors", async () => {
    const policy = withFallback(undefined, { value: 'x' });
    const bad = () => Promise.reject(new CortexError('invalid_request', 'bad'));
    expect(hasCode(await rejection(policy.execute(bad)), 'invalid_request')).toBe(true);
    const aborted = () => Promise.reject(new CortexError('aborted', 'gone'));
    expect(hasCode(await rejection(policy.execute(aborted)), 'aborted')).toBe(true);
    await expect(policy.execute(() => Promise.reject(new CortexError('circuit_open', 'open')))).resolves.toBe(
      'x',
    );
  });
});

describe('FallbackPolicy per key', () => {
  it('keeps last good answers per key, says when a fallback answered, never serves another key', async () => {
    const clock = new FakeClock();
    const entries = new Map<string, { value: string[]; at: number }>();
    const policy = withFallback<string[], string>(undefined, {
      lastGood: {
        maxAgeMs: 1_000,
        store: { get: (k) => entries.get(k), set: (k, value, at) => entries.set(k, { value, at }) },
      },
      compute: (err, _ctx, key) => [`${key}:${err.code}`],
      clock,
    });
    await expect(policy.resolve(async () => ['a1'], { key: 'alice' })).resolves.toEqual({ value: ['a1'] });
    await expect(policy.resolve(down, { key: 'alice' })).resolves.toEqual({
      value: ['a1'],
      fallback: { source: 'last_good', code: 'connection' },
    });
    // Bob never had an answer: he gets the computed one, not Alice's.
    await expect(policy.resolve(down, { key: 'bob' })).resolves.toEqual({
      value: ['bob:connection'],
      fallback: { source: 'computed', code: 'connection' },
    });
    clock.advance(1_001);
    expect((await policy.resolve(down, { key: 'alice' })).fallback?.source).toBe('computed');
  });

  it('the default store serves only the key it kept', async () => {
    const policy = withFallback<string, string>(undefined, { lastGood: true });
    await policy.resolve(async () => 'for-alice', { key: 'alice' });
    expect(hasCode(await rejection(policy.resolve(down, { key: 'bob' })), 'connection')).toBe(true);
    await expect(policy.resolve(down, { key: 'alice' })).resolves.toMatchObject({ value: 'for-alice' });
  });

  it('isUnavailable covers an away dependency, not a wrong answer', async () => {
    const { isUnavailable } = await import('./fallback');
    for (const code of [
      'circuit_open',
      'connection',
      'timeout',
      'service_unavailable',
      'server_error',
    ] as const)
      expect(isUnavailable(new CortexError(code, 'x'))).toBe(true);
    for (const code of ['data_error', 'client_error', 'aborted', 'unauthorized'] as const)
      expect(isUnavailable(new CortexError(code, 'x'))).toBe(false);
    expect(isUnavailable(new CortexError('tool_execution_error', 'x', { status: 500 }))).toBe(true);
    expect(isUnavailable(new CortexError('invalid_request', 'x', { status: 400 }))).toBe(false);
    expect(isUnavailable(new CortexError('data_error', 'x', { status: 502 }))).toBe(false);
    const policy = withFallback(undefined, { value: 'fallback', when: isUnavailable });
    const wrong = () => Promise.reject(new CortexError('data_error', 'bad shape'));
    expect(hasCode(await rejection(policy.execute(wrong)), 'data_error')).toBe(true);
  });
});
