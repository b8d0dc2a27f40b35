import { CortexError, hasCode } from '@cortex/errors';
import { FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { currentCallScope, inCallScope } from './call-scope';
import type { ResilienceEvent } from './events';
import { createServicePolicy } from './policy-for-service';

const noWait = { baseDelayMs: 0, maxDelayMs: 0, jitter: 'none' as const, budget: { enabled: false } };

describe('ServicePolicy from config', () => {
  it('counts retries, not attempts: maxRetries 3 is four calls', async () => {
    const policy = createServicePolicy({
      timeoutMs: 0,
      retry: { ...noWait, maxRetries: 3 },
      breaker: { enabled: false },
    });
    let calls = 0;
    await rejection(policy.execute(async () => Promise.reject(new CortexError('connection', `n${++calls}`))));
    expect(calls).toBe(4);
  });

  it('retries only the listed kinds', async () => {
    const policy = createServicePolicy({
      timeoutMs: 0,
      retry: { ...noWait, maxRetries: 3, retryOn: ['timeout'] },
      breaker: { enabled: false },
    });
    let calls = 0;
    await rejection(policy.execute(async () => Promise.reject(new CortexError('connection', `n${++calls}`))));
    expect(calls).toBe(1);
    calls = 0;
    await rejection(policy.execute(async () => Promise.reject(new CortexError('timeout', `n${++calls}`))));
    expect(calls).toBe(4);
    // Listing a kind classification forbids does not make it retried.
    const unsafe = createServicePolicy({
      timeoutMs: 0,
      retry: { ...noWait, maxRetries: 3, retryOn: ['circuit_open', 'timeout'] },
      breaker: { enabled: false },
    });
    calls = 0;
    await rejection(
      unsafe.execute(async () => Promise.reject(new CortexError('circuit_open', `n${++calls}`))),
    );
    expect(calls).toBe(1);
  });

  it('counts what `isFailure` says against the dependency in its breaker', async () => {
    const clock = new FakeClock();
    const config = { retry: { maxRetries: 0 }, breaker: { failureThreshold: 2 } };
    const clientError = () => Promise.reject(new CortexError('client_error', 'bad key', { status: 401 }));
    const standard = createServicePolicy(config, { clock });
    const strict = createServicePolicy(config, { clock, isFailure: () => true });
    for (let i = 0; i < 2; i++) {
      await standard.execute(clientError).catch(() => {});
      await strict.execute(clientError).catch(() => {});
    }
    // By default a caller's 4xx says nothing about the dependency; here it was told to count.
    expect(standard.breaker?.state).toBe('closed');
    expect(strict.breaker?.state).toBe('open');
  });

  it('names its circuit in circuit_open errors and in transition events', async () => {
    const clock = new FakeClock();
    const events: ResilienceEvent[] = [];
    const policy = createServicePolicy(
      { timeoutMs: 0, retry: { maxRetries: 0 }, breaker: { failureThreshold: 2, openMs: 100 } },
      { name: 'memory', clock, onEvent: (e) => events.push(e) },
    );
    const down = () => Promise.reject(new CortexError('connection', 'down'));
    await rejection(policy.execute(down));
    await rejection(policy.execute(down));
    const err = await rejection(policy.execute(down));
    expect(hasCode(err, 'circuit_open')).toBe(true);
    expect((err as CortexError).message).toContain('"memory"');
    expect((err as CortexError).details).toEqual({ circuit: 'memory', state: 'open' });
    expect(events.find((e) => e.type === 'breaker_open')).toMatchObject({
      circuit: 'memory',
      from: 'closed',
      failures: 2,
    });
    clock.advance(100);
    expect(events.find((e) => e.type === 'breaker_half_open')).toEqual({
      type: 'breaker_half_open',
      circuit: 'memory',
      from: 'open',
    });
    await policy.execute(async () => 'ok');
    expect(events.find((e) => e.type === 'breaker_close')).toEqual({
      type: 'breaker_close',
      circuit: 'memory',
      from: 'half_open',
    });
  });

  it('lets listeners read the scope of the call that emitted an event', async () => {
    const seen: (string | undefined)[] = [];
    const policy = createServicePolicy(
      { timeoutMs: 0, retry: { ...noWait, maxRetries: 1 }, breaker: { enabled: false } },
      { onEvent: (e) => e.type === 'retry' && seen.push(currentCallScope()?.requestId) },
    );
    let n = 0;
    const flaky = async () => {
      if (n++ === 0) throw new CortexError('timeout', 'slow');
      return 'ok';
    };
    await inCallScope({ requestId: 'req-1' }, () =>
      inCallScope({ operation: 'get' }, () => policy.execute(flaky)),
    );
    expect(seen).toEqual(['req-1']);
  });
});
