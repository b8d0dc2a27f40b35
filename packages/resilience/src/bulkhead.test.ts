import { hasCode } from '@cortex/errors';
import { capture, countingController, FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { Bulkhead, type BulkheadOptions } from './bulkhead';
import type { ResilienceEvent } from './events';
import { sharedWheel } from './timer-wheel';

function setup(options: Omit<BulkheadOptions, 'clock'>) {
  const clock = new FakeClock();
  const wheel = sharedWheel(clock);
  const bulkhead = new Bulkhead({ ...options, clock });
  const events: ResilienceEvent[] = [];
  bulkhead.events.on((e) => events.push(e));
  return { clock, wheel, bulkhead, events };
}

/** Calls that stay in flight until released, in the order they started. */
function gate() {
  const started: string[] = [];
  const release: (() => void)[] = [];
  const task = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      release.push(() => resolve(name));
    });
  return { started, release, task };
}

describe('Bulkhead', () => {
  it('limits concurrency, queues in order, and rejects with bulkhead_full when the queue is full', async () => {
    const { bulkhead, events } = setup({ maxConcurrent: 2, maxQueue: 1 });
    const g = gate();
    const a = bulkhead.execute(g.task('a'));
    const b = bulkhead.execute(g.task('b'));
    const c = capture(bulkhead.execute(g.task('c')));
    const err = await rejection(bulkhead.execute(g.task('d')));
    expect(hasCode(err, 'bulkhead_full')).toBe(true);
    expect(events).toEqual([{ type: 'bulkhead_reject', reason: 'full' }]);
    expect(g.started).toEqual(['a', 'b']);
    expect(bulkhead.queueLength).toBe(1);
    g.release[0]!();
    await a;
    expect(g.started).toEqual(['a', 'b', 'c']);
    g.release[1]!();
    g.release[2]!();
    await b;
    expect(await c.outcome).toEqual({ ok: true, value: 'c' });
    expect(bulkhead.active).toBe(0);
  });

  it('frees the slot when a call fails', async () => {
    const { bulkhead } = setup({ maxConcurrent: 1 });
    await rejection(bulkhead.execute(() => Promise.reject(new Error('x'))));
    await rejection(
      bulkhead.execute(() => {
        throw new Error('sync');
      }),
    );
    await expect(bulkhead.execute(async () => 1)).resolves.toBe(1);
  });

  it('a queued call whose signal aborts leaves the queue and removes its listener', async () => {
    const { bulkhead, events } = setup({ maxConcurrent: 1, maxQueue: 5 });
    const g = gate();
    const first = bulkhead.execute(g.task('first'));
    const { controller, listeners } = countingController();
    const waiting = capture(bulkhead.execute(g.task('waiting'), controller.signal));
    const other = countingController();
    const next = capture(bulkhead.execute(g.task('next'), other.controller.signal));
    expect(listeners()).toBe(1);
    controller.abort();
    const out = await waiting.outcome;
    expect(hasCode(!out.ok && out.error, 'aborted')).toBe(true);
    expect(listeners()).toBe(0);
    expect(bulkhead.queueLength).toBe(1);
    expect(events).toEqual([{ type: 'bulkhead_reject', reason: 'aborted' }]);
    g.release[0]!();
    await first;
    // The one still queued got the slot, and its listener went with it out of the queue.
    expect(g.started).toEqual(['first', 'next']);
    expect(other.listeners()).toBe(0);
    g.release[1]!();
    expect((await next.outcome).ok).toBe(true);
  });

  it('a queued call whose deadline passes leaves the queue with timeout', async () => {
    const { clock, wheel, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5 });
    const g = gate();
    void bulkhead.execute(g.task('first'));
    const waiting = capture(bulkhead.execute(g.task('late'), undefined, clock.now() + 100));
    clock.advance(105);
    const out = await waiting.outcome;
    expect(hasCode(!out.ok && out.error, 'timeout')).toBe(true);
    expect(bulkhead.queueLength).toBe(0);
    expect(wheel.size).toBe(0);
    const past = await rejection(bulkhead.execute(g.task('x'), undefined, clock.now()));
    expect(hasCode(past, 'timeout')).toBe(true);
  });

  it('maxQueueWaitMs bounds the wait with bulkhead_full', async () => {
    const { clock, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5, maxQueueWaitMs: 50 });
    const g = gate();
    void bulkhead.execute(g.task('first'));
    const waiting = capture(bulkhead.execute(g.task('w')));
    clock.advance(55);
    const out = await waiting.outcome;
    expect(hasCode(!out.ok && out.error, 'bulkhead_full')).toBe(true);
  });

  it('an already aborted signal is refused without queueing', async () => {
    const { bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5 });
    const g = gate();
    void bulkhead.execute(g.task('first'));
    const err = await rejection(bulkhead.execute(g.task('x'), AbortSignal.abort()));
    expect(hasCode(err, 'aborted')).toBe(true);
    expect(bulkhead.queueLength).toBe(0);
  });
});
