import { CortexError, hasCode } from '@cortex/errors';
import { capture, FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker';
import { wrap } from './compose';
import type { ResilienceEvent } from './events';
import { GuardedTimeout } from './guarded-timeout';
import { type Attempt, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import { type AttemptContext, noPolicy, type Policy } from './policy';
import { createServicePolicy } from './policy-for-service';
import { TimeoutPolicy } from './timeout';
import { sharedWheel } from './timer-wheel';

class Trace implements Layer {
  constructor(
    private readonly name: string,
    private readonly log: string[],
  ) {}
  execute<T>(fn: Attempt<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this[runLayer](fn, rootContext(signal, deadline), undefined, 0);
  }
  async [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    this.log.push(`>${this.name}`);
    try {
      return await callNext(fn, ctx, chain, index);
    } finally {
      this.log.push(`<${this.name}`);
    }
  }
}

describe('wrap', () => {
  it('runs policies outer → inner, flattening nested compositions', async () => {
    const log: string[] = [];
    const policy = wrap(new Trace('a', log), wrap(new Trace('b', log), new Trace('c', log)));
    expect(policy.layers).toHaveLength(3);
    await policy.execute(async () => {
      log.push('fn');
    });
    expect(log).toEqual(['>a', '>b', '>c', 'fn', '<c', '<b', '<a']);
  });

  it('runs a policy from elsewhere (only `execute`) as one of its layers', async () => {
    const log: string[] = [];
    const foreign: Policy = {
      async execute(fn, signal, deadline) {
        log.push('>foreign');
        try {
          return await fn({ signal, attempt: 7, deadline });
        } finally {
          log.push('<foreign');
        }
      },
    };
    const policy = wrap(new Trace('a', log), foreign, new Trace('b', log));
    expect(policy.layout).toEqual(['Trace', 'Policy', 'Trace']);
    const seen = await policy.execute(async (ctx) => {
      log.push('fn');
      return ctx.attempt;
    });
    expect(seen).toBe(7);
    expect(log).toEqual(['>a', '>foreign', '>b', 'fn', '<b', '<foreign', '<a']);
    // Typed: the composition keeps the policies as given, in order.
    const [trace, other] = policy.policies;
    expect(trace).toBeInstanceOf(Trace);
    expect(other).toBe(foreign);
  });

  it('noPolicy calls the function once with the caller’s signal and deadline', async () => {
    const controller = new AbortController();
    const seen = await noPolicy.execute(async (ctx) => ctx, controller.signal, 42);
    expect(seen).toEqual({ signal: controller.signal, attempt: 1, deadline: 42 });
  });

  it('passes signal and deadline through to the function', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const seen = await wrap(new Trace('a', log)).execute(async (ctx) => ctx, controller.signal, 123);
    expect(seen).toEqual({ signal: controller.signal, attempt: 1, deadline: 123 });
  });
});

describe('wrap(breaker, timeout) fused into one layer', () => {
  it('fuses, counts timeouts as failures, and reports through both emitters', async () => {
    const clock = new FakeClock();
    const wheel = sharedWheel(clock);
    const breaker = new CircuitBreaker({ clock, failureThreshold: 2, openMs: 1_000 });
    const timeout = new TimeoutPolicy({ timeoutMs: 100, clock });
    const events: string[] = [];
    breaker.events.on((e) => events.push(e.type));
    timeout.events.on((e) => events.push(e.type));
    const policy = wrap(breaker, timeout);
    expect(policy.layout).toEqual(['CircuitBreaker+TimeoutPolicy']);
    expect(policy.layers[0]).toBeInstanceOf(GuardedTimeout);
    await expect(policy.execute(async (ctx) => ctx.deadline)).resolves.toBe(100);
    for (let i = 0; i < 2; i++) {
      const c = capture(policy.execute(() => new Promise(() => {})));
      await clock.advanceAsync(105);
      expect(hasCode(await c.outcome.then((o) => !o.ok && o.error), 'timeout')).toBe(true);
    }
    expect(breaker.state).toBe('open');
    expect(events).toEqual(['timeout', 'timeout', 'breaker_open']);
    expect(wheel.size).toBe(0);
  });

  it('without a timeout the function sees no deadline, and the breaker still hears the outcome', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1 });
    const policy = wrap(breaker, new TimeoutPolicy({ timeoutMs: 0, clock }));
    expect(policy.layout).toEqual(['CircuitBreaker+TimeoutPolicy']);
    await expect(policy.execute(async (ctx) => ctx.deadline)).resolves.toBeUndefined();
    await policy.execute(() => Promise.reject(new CortexError('server_error', 'x'))).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('a call refused before it starts gives its probe slot back without a verdict', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1, openMs: 100 });
    const policy = wrap(breaker, new TimeoutPolicy({ timeoutMs: 1_000, clock }));
    await policy.execute(() => Promise.reject(new CortexError('server_error', 'x'))).catch(() => {});
    clock.advance(100);
    const past = await policy.execute(async () => 1, undefined, clock.now()).catch((e: unknown) => e);
    expect(hasCode(past, 'timeout')).toBe(true);
    expect(breaker.state).toBe('half_open');
    expect(breaker.probesInFlight).toBe(0);
    await expect(policy.execute(async () => 2)).resolves.toBe(2);
    expect(breaker.state).toBe('closed');
  });
});

describe('createServicePolicy: bulkhead → retry → breaker → timeout → fn', () => {
  const base = { retry: { baseDelayMs: 100, jitter: 'none' as const, budget: { enabled: false } } };

  it('every retry attempt passes the breaker: an opening circuit stops the retries', async () => {
    const clock = new FakeClock();
    const events: ResilienceEvent[] = [];
    const policy = createServicePolicy(
      { ...base, retry: { ...base.retry, maxRetries: 4 }, breaker: { failureThreshold: 2 } },
      { clock, onEvent: (e) => events.push(e) },
    );
    let calls = 0;
    const call = capture(
      policy.execute(async () => {
        calls++;
        throw new CortexError('server_error', 'boom');
      }),
    );
    await clock.advanceAsync(10_000);
    const out = await call.outcome;
    expect(calls).toBe(2);
    expect(hasCode(!out.ok && out.error, 'circuit_open')).toBe(true);
    expect(events.map((e) => e.type).slice(0, 6)).toEqual([
      'retry',
      'breaker_open',
      'retry',
      'breaker_reject',
      'give_up',
      'call',
    ]);
  });

  it('the timeout is per attempt, and the total deadline caps them all', async () => {
    const clock = new FakeClock();
    const policy = createServicePolicy(
      { ...base, timeoutMs: 1_000, totalTimeoutMs: 2_500, retry: { ...base.retry, maxRetries: 9 } },
      { clock },
    );
    const starts: number[] = [];
    let endedAt = 0;
    const call = capture(
      policy
        .execute((ctx) => {
          starts.push(clock.now());
          return new Promise((_, reject) =>
            ctx.signal?.addEventListener('abort', () => reject(ctx.signal?.reason)),
          );
        })
        .finally(() => {
          endedAt = clock.now();
        }),
    );
    await clock.advanceAsync(20_000);
    const out = await call.outcome;
    // Attempts time out after 1000 each, with 100 and 200 between them; the third attempt is cut
    // short by the total deadline (2500), and no fourth starts.
    expect(starts).toEqual([0, 1_100, 2_300]);
    expect(!out.ok && (out.error as CortexError).message).toBe('deadline exceeded');
    expect(endedAt).toBe(2_500);
  });

  it('the bulkhead holds one slot for the whole call, retries included', async () => {
    const clock = new FakeClock();
    const policy = createServicePolicy(
      { ...base, bulkhead: { enabled: true, maxConcurrent: 1, maxQueue: 0 } },
      { clock },
    );
    let n = 0;
    const first = capture(
      policy.execute(async () => {
        if (++n === 1) throw new CortexError('connection', 'blip');
        return 'first';
      }),
    );
    await clock.advanceAsync(10); // first is waiting to retry
    const second = await capture(policy.execute(async () => 'second')).outcome;
    expect(hasCode(!second.ok && second.error, 'bulkhead_full')).toBe(true);
    await clock.advanceAsync(1_000);
    expect(await first.outcome).toEqual({ ok: true, value: 'first' });
  });

  it("with no per-attempt timeout (0), the total and the caller's deadline still end a hung call", async () => {
    const clock = new FakeClock();
    const hang = (ctx: AttemptContext) =>
      new Promise<never>((_, reject) =>
        ctx.signal?.addEventListener('abort', () => reject(ctx.signal?.reason)),
      );
    const total = createServicePolicy(
      { timeoutMs: 0, totalTimeoutMs: 500, retry: { maxRetries: 0 } },
      { clock },
    );
    const byTotal = capture(total.execute(hang));
    const plain = createServicePolicy({ timeoutMs: 0, retry: { maxRetries: 0 } }, { clock });
    const byCaller = capture(plain.execute(hang, undefined, clock.now() + 100));
    await clock.advanceAsync(100);
    const caller = await byCaller.outcome;
    expect(hasCode(!caller.ok && caller.error, 'timeout')).toBe(true);
    expect(byTotal.settled).toBe(false);
    await clock.advanceAsync(400);
    const outcome = await byTotal.outcome;
    expect(hasCode(!outcome.ok && outcome.error, 'timeout')).toBe(true);
  });
});
