import { type Clock, systemClock } from '@cortex/resilience';
import type { Database } from '../db/database';
import { EVENTS_CHANNEL } from '../store/event-order';

/**
 * One LISTEN per process, however many feed subscribers: each waiter is woken by the next
 * notification, by a LISTEN reconnect (notifications sent meanwhile are gone, so re-read), or by
 * its own poll timeout as a last resort.
 */
export class FeedNotifier {
  private waiters = new Set<(notified: boolean) => void>();
  private stop: (() => Promise<void>) | undefined;
  /** Counts wake-ups, so a waiter can tell one happened since it last looked. */
  epoch = 0;

  constructor(private readonly clock: Clock = systemClock) {}

  async start(db: Database) {
    this.stop = await db.listen(
      EVENTS_CHANNEL,
      () => this.wakeAll(),
      () => this.wakeAll(),
    );
  }

  wakeAll() {
    this.epoch++;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w(true);
  }

  /**
   * True on the next wake-up (at once if there was one since `sinceEpoch`); false after
   * `timeoutMs` or when `signal` aborts.
   */
  wait(timeoutMs: number, signal: AbortSignal, sinceEpoch = this.epoch): Promise<boolean> {
    if (sinceEpoch !== this.epoch) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (notified: boolean) => {
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiters.delete(done);
        resolve(notified);
      };
      const onAbort = () => done(false);
      const timer = this.clock.setTimeout(onAbort, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(done);
    });
  }

  async close() {
    this.wakeAll();
    await this.stop?.();
  }
}
