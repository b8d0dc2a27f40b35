import { CortexError, hasCode } from '@cortex/errors';
import { capture, countingController, FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { ResilienceEvent } from './events';
import type { AttemptContext } from './policy';
import { TimeoutPolicy } from './timeout';
import { sharedWheel } from './timer-wheel';

function setup(timeoutMs = 100) {
  const clock = new FakeClock(1_000);
  const wheel = sharedWheel(clock);
  const policy = new TimeoutPolicy({ timeoutMs, clock });
  return { clock, wheel, policy };
}

const never = () => new Promise<never>(() => {});

describe('TimeoutPolicy', () => {
  it('times out a slow call, rejects with timeout and aborts its signal', async () => {
    const { clock, policy } = setup(100);
    let signal: AbortSignal | undefined;
    const events: ResilienceEvent[] = [];
    policy.events.on((e) => events.push(e));
    const call = capture(
      policy.execute((ctx) => {
        signal = ctx.signal;
        return never();
      }),
    );
    await clock.advanceAsync(99);
    expect(call.settled).toBe(false);
    expect(signal?.aborted).toBe(false);
    await clock.advanceAsync(6);
    const out = await call.outcome;
    expect(out.ok).toBe(false);
    expect(hasCode(!out.ok && out.error, 'timeout')).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(hasCode(signal?.reason, 'timeout')).toBe(true);
    expect(events).toEqual([{ type: 'timeout', timeoutMs: 100, kind: 'attempt' }]);
  });

  it('passes results and errors through and leaves nothing registered', async () => {
    const { clock, wheel, policy } = setup();
    await expect(policy.execute(async () => 42)).resolves.toBe(42);
    const err = new CortexError('server_error', 'boom');
    await expect(policy.execute(async () => Promise.reject(err))).rejects.toBe(err);
    await expect(
      policy.execute(() => {
        throw err;
      }),
    ).rejects.toBe(err);
    expect(wheel.size).toBe(0);
    clock.advance(10);
    expect(wheel.running).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('shares one timer between concurrent calls and creates no signal nobody reads', async () => {
    const { clock, wheel, policy } = setup();
    const resolvers: (() => void)[] = [];
    const ctxs: AttemptContext[] = [];
    const calls = Array.from({ length: 500 }, () =>
      policy.execute(
        (ctx) =>
          new Promise<void>((resolve) => {
            ctxs.push(ctx);
            resolvers.push(resolve);
          }),
      ),
    );
    expect(wheel.size).toBe(500);
    expect(clock.pendingTimers).toBe(1);
    for (const r of resolvers) r();
    await Promise.all(calls);
    expect(wheel.size).toBe(0);
    // The controller is made lazily: no call above read ctx.signal.
    expect(ctxs.every((c) => (c as unknown as { controller?: unknown }).controller === undefined)).toBe(true);
  });

  it('caps the attempt at the total deadline', async () => {
    const { clock, policy } = setup(10_000);
    const call = capture(policy.execute(never, undefined, clock.now() + 50));
    await clock.advanceAsync(60);
    const out = await call.outcome;
    expect(!out.ok && (out.error as CortexError).message).toBe('deadline exceeded');
  });

  it('hands the function the effective deadline, and refuses to start past it', async () => {
    const { clock, policy } = setup(100);
    let seen: number | undefined;
    await policy.execute(async (ctx) => {
      seen = ctx.deadline;
    });
    expect(seen).toBe(1_100);
    let called = false;
    const err = await rejection(
      policy.execute(
        async () => {
          called = true;
        },
        undefined,
        clock.now(),
      ),
    );
    expect(hasCode(err, 'timeout')).toBe(true);
    expect(called).toBe(false);
  });

  it("rejects promptly with 'aborted' when the caller aborts, and removes its listener", async () => {
    const { policy } = setup(1000);
    const { controller, listeners } = countingController();
    let inner: AbortSignal | undefined;
    const call = capture(
      policy.execute((ctx) => {
        inner = ctx.signal;
        return never();
      }, controller.signal),
    );
    expect(listeners()).toBe(1);
    controller.abort();
    const out = await call.outcome;
    expect(hasCode(!out.ok && out.error, 'aborted')).toBe(true);
    expect(inner?.aborted).toBe(true);
    expect(listeners()).toBe(0);

    const c2 = countingController();
    await policy.execute(async () => 1, c2.controller.signal);
    expect(c2.added()).toBe(1);
    expect(c2.listeners()).toBe(0);
    const aborted = AbortSignal.abort();
    expect(hasCode(await rejection(policy.execute(async () => 1, aborted)), 'aborted')).toBe(true);
  });

  it('hands out an already aborted signal when it is read after the timeout', async () => {
    const { clock, policy } = setup(10);
    let ctx: AttemptContext | undefined;
    const call = capture(
      policy.execute((c) => {
        ctx = c;
        return never();
      }),
    );
    await clock.advanceAsync(20);
    await call.outcome;
    expect(ctx?.signal?.aborted).toBe(true);
  });

  it('with timeoutMs 0 only the deadline applies', async () => {
    const clock = new FakeClock();
    const policy = new TimeoutPolicy({ timeoutMs: 0, clock });
    await expect(policy.execute(async (ctx) => ctx.deadline)).resolves.toBeUndefined();
  });
});
