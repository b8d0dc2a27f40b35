import type { Database } from '../db/database';
import { EVENTS_CHANNEL } from '../store/event-order';

/**
 * One LISTEN per process, however many feed subscribers: each waiter is woken by the next
 * notification, by a LISTEN reconnect (notifications sent meanwhile are gone, so re-read), or by
 * its own poll timeout as a last resort.
 */
export class FeedNotifier {
  private waiters = new Set<() => void>();
  private stop: (() => Promise<void>) | undefined;

  async start(db: Database) {
    this.stop = await db.listen(
      EVENTS_CHANNEL,
      () => this.wakeAll(),
      () => this.wakeAll(),
    );
  }

  wakeAll() {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }

  /** Resolves on the next wake-up, after `timeoutMs`, or when `signal` aborts. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  async close() {
    this.wakeAll();
    await this.stop?.();
  }
}
