import { CortexError } from '@cortex/errors';
import { capture, FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { RetryPolicy } from './retry';
import { RetryBudget } from './retry-budget';

/** 1000 requests at 100/s against an upstream that always refuses; attempts per request. */
async function deadUpstream(budget: RetryBudget | false, clock: FakeClock): Promise<number> {
  const retry = new RetryPolicy({ maxAttempts: 4, baseDelayMs: 50, clock, random: () => 0.5, budget });
  let attempts = 0;
  const fn = async () => {
    attempts++;
    throw new CortexError('connection', 'refused');
  };
  const calls = [];
  for (let i = 0; i < 1000; i++) {
    calls.push(capture(retry.execute(fn)));
    await clock.advanceAsync(10);
  }
  await clock.advanceAsync(10_000);
  const outcomes = await Promise.all(calls.map((c) => c.outcome));
  expect(outcomes.every((o) => !o.ok)).toBe(true);
  return attempts / 1000;
}

describe('RetryBudget', () => {
  it('keeps a dead upstream at <= 1.2 attempts per request with 4 attempts configured', async () => {
    const clock = new FakeClock();
    const ratio = await deadUpstream(new RetryBudget({ clock }), clock);
    console.log(`dead upstream, maxAttempts 4, budget 0.2: ${ratio.toFixed(3)} attempts/request`);
    expect(ratio).toBeLessThanOrEqual(1.2);
    expect(ratio).toBeGreaterThan(1.1);
  });

  it('without a budget the same outage costs 4 attempts per request', async () => {
    const clock = new FakeClock();
    expect(await deadUpstream(false, clock)).toBe(4);
  });

  it('lets a quiet service retry up to the floor', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, minRetriesPerSecond: 1, windowMs: 10_000 });
    budget.recordRequest();
    const granted = Array.from({ length: 12 }, () => budget.tryAcquire()).filter(Boolean).length;
    expect(granted).toBe(10);
  });

  it('allows ratio × requests under load, and forgets what left the window', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, ratio: 0.2, minRetriesPerSecond: 0, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(20);
    expect(budget.usage).toEqual({ requests: 100, retries: 20 });
    clock.advance(10_000);
    expect(budget.usage).toEqual({ requests: 0, retries: 0 });
    expect(budget.tryAcquire()).toBe(false);
  });
});
