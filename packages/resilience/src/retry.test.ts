import { CortexError, hasCode } from '@cortex/errors';
import { capture, countingController, FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { ResilienceEvent } from './events';
import { type RetryOptions, RetryPolicy } from './retry';

function setup(options: RetryOptions = {}) {
  const clock = new FakeClock(10_000);
  const events: ResilienceEvent[] = [];
  const retry = new RetryPolicy({ clock, random: () => 0.5, budget: false, ...options });
  retry.events.on((e) => events.push(e));
  return { clock, retry, events };
}

/** A function failing with `errors` in turn, then answering 'ok'; records when each attempt ran. */
function script(clock: FakeClock, errors: unknown[]) {
  const times: number[] = [];
  const attempts: number[] = [];
  const fn = async (ctx: { attempt: number }) => {
    times.push(clock.now());
    attempts.push(ctx.attempt);
    const err = errors[times.length - 1];
    if (err !== undefined) throw err;
    return 'ok';
  };
  return { fn, times, attempts };
}

const connection = () => new CortexError('connection', 'refused');

describe('RetryPolicy', () => {
  it('succeeds on the third attempt, numbering attempts and backing off exponentially', async () => {
    const { clock, retry, events } = setup({ jitter: 'none', baseDelayMs: 100 });
    const s = script(clock, [connection(), connection()]);
    const call = capture(retry.execute(s.fn));
    await clock.advanceAsync(1_000);
    expect(await call.outcome).toEqual({ ok: true, value: 'ok' });
    expect(s.attempts).toEqual([1, 2, 3]);
    expect(s.times).toEqual([10_000, 10_100, 10_300]);
    expect(events.filter((e) => e.type === 'retry')).toEqual([
      { type: 'retry', attempt: 1, delayMs: 100, reason: 'connection' },
      { type: 'retry', attempt: 2, delayMs: 200, reason: 'connection' },
    ]);
  });

  it('gives up after maxAttempts with the classified error, marked noRetry for outer layers', async () => {
    const { clock, retry, events } = setup({ maxAttempts: 2 });
    const raw = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const s = script(clock, [raw, raw, raw]);
    const call = capture(retry.execute(s.fn));
    await clock.advanceAsync(10_000);
    const out = await call.outcome;
    expect(s.times).toHaveLength(2);
    const err = !out.ok ? (out.error as CortexError) : undefined;
    expect(hasCode(err, 'connection')).toBe(true);
    expect(err?.noRetry).toBe(true);
    expect(events.at(-1)).toEqual({
      type: 'give_up',
      attempts: 2,
      reason: 'max_attempts',
      code: 'connection',
    });
  });

  it.each([400, 401, 403, 404, 409, 422])('never retries a %i', async (status) => {
    const { clock, retry } = setup();
    const s = script(clock, [new CortexError('client_error', 'no', { status })]);
    await rejection(retry.execute(s.fn));
    expect(s.times).toHaveLength(1);
  });

  it.each([408, 429, 500, 502, 503, 504])('retries a %i', async (status) => {
    const { clock, retry } = setup();
    const s = script(clock, [{ status, message: 'x' }]);
    const call = capture(retry.execute(s.fn));
    await clock.advanceAsync(1_000);
    expect((await call.outcome).ok).toBe(true);
    expect(s.times).toHaveLength(2);
  });

  it('honours Retry-After: never earlier, even when the backoff is shorter', async () => {
    const { clock, retry } = setup({ baseDelayMs: 10 });
    const s = script(clock, [new CortexError('rate_limited', 'slow down', { retryAfterMs: 2_500 })]);
    const call = capture(retry.execute(s.fn));
    await clock.advanceAsync(2_499);
    expect(s.times).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(await call.outcome).toEqual({ ok: true, value: 'ok' });
    expect(s.times[1]! - s.times[0]!).toBeGreaterThanOrEqual(2_500);
  });

  it('keeps waiting when the timer fires early', async () => {
    const { clock, retry } = setup({ baseDelayMs: 10 });
    // A clock whose timers fire 3 ms before they are due, as real timers occasionally do.
    const early = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => early(fn, ms > 5 ? ms - 3 : ms);
    const s = script(clock, [new CortexError('rate_limited', 'slow down', { retryAfterMs: 1_000 })]);
    const call = capture(retry.execute(s.fn));
    await clock.advanceAsync(2_000);
    await call.outcome;
    expect(s.times[1]! - s.times[0]!).toBeGreaterThanOrEqual(1_000);
  });

  it('gives up rather than retry early when Retry-After exceeds its own cap', async () => {
    const { clock, retry, events } = setup({ maxRetryAfterMs: 5_000, maxDelayMs: 100 });
    const s = script(clock, [new CortexError('server_error', 'later', { retryAfterMs: 60_000 })]);
    const err = await rejection(retry.execute(s.fn));
    expect(hasCode(err, 'server_error')).toBe(true);
    expect(s.times).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
    expect(events.at(-1)).toMatchObject({ type: 'give_up', reason: 'retry_after_too_long' });
  });

  it('stops at noRetry', async () => {
    const { clock, retry, events } = setup();
    const s = script(clock, [new CortexError('overloaded', 'shedding', { noRetry: true })]);
    await rejection(retry.execute(s.fn));
    expect(s.times).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'give_up', reason: 'no_retry' });
  });

  it('aborting a wait rejects promptly with aborted and leaves no timer or listener', async () => {
    const { clock, retry } = setup({ baseDelayMs: 60_000, jitter: 'none' });
    const { controller, listeners } = countingController();
    const s = script(clock, [connection()]);
    const call = capture(retry.execute(s.fn, controller.signal));
    await clock.advanceAsync(10);
    expect(clock.pendingTimers).toBe(1);
    expect(listeners()).toBe(1);
    controller.abort();
    const out = await call.outcome;
    expect(hasCode(!out.ok && out.error, 'aborted')).toBe(true);
    expect(clock.now()).toBe(10_010);
    expect(clock.pendingTimers).toBe(0);
    expect(s.times).toHaveLength(1);
  });

  it('removes its wait listener after a normal wait', async () => {
    const { clock, retry } = setup();
    const { controller, listeners, added } = countingController();
    const s = script(clock, [connection()]);
    const call = capture(retry.execute(s.fn, controller.signal));
    await clock.advanceAsync(1_000);
    expect((await call.outcome).ok).toBe(true);
    expect(added()).toBe(1);
    expect(listeners()).toBe(0);
  });

  it('never retries past the total deadline', async () => {
    const { clock, retry, events } = setup({ baseDelayMs: 1_000, jitter: 'none' });
    const s = script(clock, [connection(), connection()]);
    const call = capture(retry.execute(s.fn, undefined, clock.now() + 1_500));
    await clock.advanceAsync(5_000);
    expect((await call.outcome).ok).toBe(false);
    expect(s.times).toEqual([10_000, 11_000]);
    expect(events.at(-1)).toMatchObject({ type: 'give_up', reason: 'deadline', attempts: 2 });
  });

  it('does not retry when the caller has already aborted', async () => {
    const { clock, retry } = setup();
    const controller = new AbortController();
    const s = script(clock, [connection()]);
    const fn = async (ctx: { attempt: number }) => {
      controller.abort();
      return s.fn(ctx);
    };
    expect(hasCode(await rejection(retry.execute(fn, controller.signal)), 'aborted')).toBe(true);
    expect(s.times).toHaveLength(1);
  });

  it('draws jitter from the injected random', async () => {
    for (const [jitter, expected] of [
      ['full', 25],
      ['equal', 62.5],
      ['none', 100],
    ] as const) {
      const { clock, retry } = setup({ jitter, baseDelayMs: 100, random: () => 0.25 });
      const s = script(clock, [connection()]);
      const call = capture(retry.execute(s.fn));
      await clock.advanceAsync(1_000);
      await call.outcome;
      expect(s.times[1]! - s.times[0]!).toBe(Math.round(expected));
    }
  });
});
