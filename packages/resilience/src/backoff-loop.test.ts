import { CortexError } from '@cortex/errors';
import { capture, FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { BackoffOptions } from './backoff';
import { BackoffLoop } from './backoff-loop';
import type { ResilienceEvent } from './events';

const exact: BackoffOptions = { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' };
const refused = () => new CortexError('connection', 'refused');

/** A loop whose step fails `failures` times, recording when each attempt started. */
function failing(clock: FakeClock, failures: number, backoff: BackoffOptions = exact, random?: () => number) {
  const loop = new BackoffLoop({ name: 'test', backoff, clock, ...(random ? { random } : {}) });
  const attempts: number[] = [];
  const step = async () => {
    attempts.push(clock.now());
    if (attempts.length <= failures) throw refused();
  };
  return { loop, attempts, step };
}

describe('BackoffLoop', () => {
  it('tries at once, then waits base · 2^(n-1) after the n-th failure in a row, up to the cap', async () => {
    const clock = new FakeClock(0);
    const { loop, attempts, step } = failing(clock, 6);
    const run = capture(loop.run(step));
    await clock.advanceAsync(10_000);
    expect(run.settled).toBe(true);
    // 100, 200, 400, 800, then capped at 1000.
    expect(attempts).toEqual([0, 100, 300, 700, 1_500, 2_500, 3_500]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps every jittered wait within [0, exp] with full jitter, and reaches its bounds', async () => {
    for (const [r, expected] of [
      [0, [0, 0, 0, 0]],
      [1, [0, 100, 300, 700]],
      [0.5, [0, 50, 150, 350]],
    ] as const) {
      const clock = new FakeClock(0);
      const { loop, attempts, step } = failing(clock, 3, { ...exact, jitter: 'full' }, () => r);
      await clock.advanceAsync(0);
      const run = capture(loop.run(step));
      await clock.advanceAsync(1_000);
      expect(run.settled).toBe(true);
      expect(attempts).toEqual(expected);
    }
  });

  it('starts the backoff over after a success', async () => {
    const clock = new FakeClock(0);
    const loop = new BackoffLoop({ name: 'test', backoff: exact, clock });
    expect([loop.failed(refused()), loop.failed(refused()), loop.failed(refused())]).toEqual([100, 200, 400]);
    loop.succeeded();
    expect(loop.failures).toBe(0);
    expect(loop.remainingMs).toBe(0);
    expect(loop.failed(refused())).toBe(100);
  });

  it('waits at least minDelayMs (a Retry-After), and reports the wait as remainingMs', async () => {
    const clock = new FakeClock(0);
    const loop = new BackoffLoop({ name: 'test', backoff: exact, clock });
    expect(loop.failed(refused(), 750)).toBe(750);
    clock.advance(250);
    expect(loop.remainingMs).toBe(500);
  });

  it('stops at once when aborted mid-sleep, leaving no timer and no listener', async () => {
    const clock = new FakeClock(0);
    const { loop, attempts, step } = failing(clock, Number.POSITIVE_INFINITY);
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    const remove = controller.signal.removeEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof add;
    controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    }) as typeof remove;
    const run = capture(loop.run(step, { signal: controller.signal }));
    await clock.advanceAsync(150); // attempts at 0 and 100, now sleeping 200
    expect(attempts).toEqual([0, 100]);
    controller.abort();
    await run.outcome;
    expect(run.settled).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(listeners).toBe(0);
    await clock.advanceAsync(10_000);
    expect(attempts).toEqual([0, 100]);
  });

  it('never rejects: failures go to onFailure with their attempt and wait', async () => {
    const clock = new FakeClock(0);
    const { loop, step } = failing(clock, 2);
    const seen: [number, number][] = [];
    const run = capture(
      loop.run(step, { onFailure: (_err, attempt, delayMs) => seen.push([attempt, delayMs]) }),
    );
    await clock.advanceAsync(1_000);
    expect(await run.outcome).toEqual({ ok: true, value: undefined });
    expect(seen).toEqual([
      [1, 100],
      [2, 200],
    ]);
  });

  it('wake() ends the wait in progress and starts the backoff over', async () => {
    const clock = new FakeClock(0);
    const { loop, attempts, step } = failing(clock, 4);
    const run = capture(loop.run(step, { minDelayMs: () => 0 }));
    await clock.advanceAsync(350); // attempts at 0, 100, 300; sleeping 400 until 700
    expect(attempts).toEqual([0, 100, 300]);
    loop.wake();
    await clock.advanceAsync(0);
    expect(attempts).toEqual([0, 100, 300, 350]);
    // The failure after the wake-up is the first of a new sequence: 100 ms, not 800.
    await clock.advanceAsync(100);
    expect(attempts).toEqual([0, 100, 300, 350, 450]);
    expect(run.settled).toBe(true);
  });

  it('wake() ends a minDelayMs wait too, but never a holdOff', async () => {
    const clock = new FakeClock(0);
    const loop = new BackoffLoop({ name: 'test', backoff: exact, clock });
    loop.failed(refused(), 5_000);
    loop.holdOff(300);
    const slept = capture(loop.sleep());
    await clock.advanceAsync(10);
    loop.wake();
    await clock.advanceAsync(289);
    expect(slept.settled).toBe(false);
    await clock.advanceAsync(1);
    expect(await slept.outcome).toEqual({ ok: true, value: true });
  });

  it('holdOff only ever moves the next attempt later', async () => {
    const clock = new FakeClock(0);
    const loop = new BackoffLoop({ name: 'test', backoff: exact, clock });
    loop.holdOff(500);
    loop.holdOff(100);
    expect(loop.remainingMs).toBe(500);
  });

  it('with everyMs, runs again after each success, and backs off between failures', async () => {
    const clock = new FakeClock(0);
    const loop = new BackoffLoop({ name: 'test', backoff: exact, everyMs: 250, clock });
    const attempts: number[] = [];
    const controller = new AbortController();
    const run = capture(
      loop.run(
        async () => {
          attempts.push(clock.now());
          if (attempts.length === 3 || attempts.length === 4) throw refused();
        },
        { signal: controller.signal },
      ),
    );
    await clock.advanceAsync(1_200);
    expect(attempts).toEqual([0, 250, 500, 600, 800, 1_050]);
    controller.abort();
    await run.outcome;
    expect(clock.pendingTimers).toBe(0);
  });

  it('emits a background_retry per failure and one background_recovered at the success', async () => {
    const clock = new FakeClock(0);
    const { loop, step } = failing(clock, 2);
    const events: ResilienceEvent[] = [];
    loop.events.on((e) => events.push(e));
    const run = capture(loop.run(step));
    await clock.advanceAsync(1_000);
    await run.outcome;
    expect(events).toEqual([
      { type: 'background_retry', loop: 'test', attempt: 1, delayMs: 100, code: 'connection' },
      { type: 'background_retry', loop: 'test', attempt: 2, delayMs: 200, code: 'connection' },
      { type: 'background_recovered', loop: 'test', failures: 2 },
    ]);
  });
});
