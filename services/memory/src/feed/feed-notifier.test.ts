import { FakeClock, flush } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { FeedNotifier } from './feed-notifier';

describe('FeedNotifier.wait', () => {
  it('answers true on the next wake-up, false at its timeout on the clock, and leaves no timer', async () => {
    const clock = new FakeClock(0);
    const notifier = new FeedNotifier(clock);
    const signal = new AbortController().signal;
    const woken = notifier.wait(1_000, signal);
    notifier.wakeAll();
    expect(await woken).toBe(true);
    expect(clock.pendingTimers).toBe(0);

    let timedOut: boolean | undefined;
    void notifier.wait(1_000, signal).then((v) => {
      timedOut = v;
    });
    clock.advance(999);
    await flush();
    expect(timedOut).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(timedOut).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('answers at once when a wake-up came since the epoch it last saw, and false on abort', async () => {
    const clock = new FakeClock(0);
    const notifier = new FeedNotifier(clock);
    const seen = notifier.epoch;
    notifier.wakeAll();
    const controller = new AbortController();
    expect(await notifier.wait(1_000, controller.signal, seen)).toBe(true);
    const aborted = notifier.wait(1_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
});
