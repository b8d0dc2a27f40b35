import { hasCode } from '@cortex/errors';
import { backoffDelay, type Clock, sleepUntil, systemClock } from '@cortex/resilience';
import { linkFromTraceparent, withSpan } from '@cortex/telemetry';
import type { FastifyBaseLogger } from 'fastify';
import { refusedByMemory } from '../store/input-writer';
import type { PendingItem, PendingJournal } from './journal';

export interface ReplayerOptions {
  /** Stores one item in memory; resolves when memory has it (stored or already there). */
  store(item: PendingItem, signal: AbortSignal): Promise<void>;
  log: FastifyBaseLogger;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  clock?: Clock;
  random?: () => number;
}

/**
 * Drains the pending journal into memory in the background, oldest first, after a restart too.
 * While memory refuses, it backs off with jitter (the breaker in front of memory turns those
 * attempts into instant refusals) until memory is seen back (`resume`); an item memory rejects as invalid can never succeed and is
 * dropped with an error log rather than blocking everything behind it.
 */
export class PendingReplayer {
  private readonly controller = new AbortController();
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** Memory's own Retry-After: a floor nothing shortens. */
  private pushbackUntil = 0;
  /** Our backoff after a refused round: ended early by `resume()`. */
  private backoffUntil = 0;
  stored = 0;
  dropped = 0;
  failures = 0;

  constructor(
    private readonly journal: PendingJournal,
    private readonly options: ReplayerOptions,
  ) {}

  start() {
    this.running ??= this.loop();
    return this;
  }

  /**
   * A new item was journalled: replay now unless we are backing off, and not before `retryAfterMs`
   * when memory just said when to come back (the replayer honours a Retry-After the request got).
   */
  kick(retryAfterMs?: number) {
    if (retryAfterMs !== undefined && retryAfterMs > 0) {
      const clock = this.options.clock ?? systemClock;
      this.pushbackUntil = Math.max(this.pushbackUntil, clock.now() + retryAfterMs);
    }
    this.wake?.();
  }

  /**
   * Memory was seen coming back (a health check answered): the backoff, sized for an outage, ends
   * now and the next round starts at once (with one item, the probe). Memory's own Retry-After
   * still holds.
   */
  resume() {
    this.backoffUntil = 0;
    // Still "after a refusal": the next round is one item, which the half-open breaker admits.
    this.failures = Math.min(this.failures, 1);
    this.wake?.();
  }

  private async loop() {
    const clock = this.options.clock ?? systemClock;
    const random = this.options.random ?? Math.random;
    const backoff = {
      baseDelayMs: this.options.baseDelayMs ?? 200,
      maxDelayMs: this.options.maxDelayMs ?? 2000,
      jitter: 'full' as const,
    };
    const signal = this.controller.signal;
    let previous = 0;
    while (!signal.aborted) {
      const items = this.journal.live();
      if (items.length === 0) {
        await this.sleep(signal);
        continue;
      }
      const notBefore = Math.max(this.pushbackUntil, this.backoffUntil);
      if (clock.now() < notBefore) {
        // `resume()` wakes this wait; the loop then sees what is left of memory's Retry-After.
        await this.sleep(signal, clock, notBefore);
        continue;
      }
      // After refusals, one item goes first: the breaker lets one probe through, and a round of
      // sixteen would be refused around it and back off again.
      const refusal = await this.replay(this.failures > 0 ? items.slice(0, 1) : items, signal);
      if (refusal === 'none') {
        this.failures = 0;
        previous = 0;
        continue;
      }
      this.failures++;
      previous = backoffDelay(backoff, this.failures, previous, random);
      // Memory's Retry-After is a floor: never come back earlier than it asked.
      this.backoffUntil = clock.now() + previous;
      this.pushbackUntil = Math.max(this.pushbackUntil, clock.now() + refusal.pushbackMs);
    }
  }

  /** Until woken (`kick`, `resume`, stop) or, with a clock, until `until`. */
  private async sleep(signal: AbortSignal, clock?: Clock, until?: number) {
    const woken = new AbortController();
    const done = () => woken.abort();
    this.wake = done;
    signal.addEventListener('abort', done, { once: true });
    try {
      if (clock && until !== undefined) await sleepUntil(clock, until, woken.signal).catch(() => {});
      else await new Promise<void>((resolve) => woken.signal.addEventListener('abort', () => resolve()));
    } finally {
      signal.removeEventListener('abort', done);
      if (this.wake === done) this.wake = undefined;
    }
  }

  /**
   * Replays a batch; on a refusal, returns the longest Retry-After any refusal of the round carried
   * (one worker's Retry-After must not be forgotten because another was refused by the breaker).
   */
  private async replay(items: PendingItem[], signal: AbortSignal): Promise<'none' | { pushbackMs: number }> {
    const concurrency = this.options.concurrency ?? 16;
    let next = 0;
    let refused = false;
    let pushbackMs = 0;
    const worker = async () => {
      while (!refused && !signal.aborted && next < items.length) {
        const item = items[next++] as PendingItem;
        try {
          await this.storeTraced(item, signal);
          this.stored++;
          await this.journal.markStored([item.item_id]);
        } catch (err) {
          if (refusedByMemory(err)) {
            this.dropped++;
            this.options.log.error(
              { item_id: item.item_id, code: err.code },
              'pending input rejected by memory; dropped',
            );
            await this.journal.markStored([item.item_id]);
          } else {
            refused = true;
            // Our own breaker's open period is not memory's Retry-After: it ends on evidence of
            // health, which calls `resume()`.
            if (hasCode(err) && err.code !== 'circuit_open')
              pushbackMs = Math.max(pushbackMs, err.retryAfterMs ?? 0);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    return refused ? { pushbackMs } : 'none';
  }

  /**
   * With tracing on, a replay is a trace of its own (the request that journalled the input was
   * answered long ago) that links to that request's span, named by the journalled traceparent.
   */
  private storeTraced(item: PendingItem, signal: AbortSignal) {
    return withSpan(
      'replay pending input',
      {
        root: true,
        links: linkFromTraceparent(item.traceparent),
        attributes: { 'cortex.item_id': item.item_id },
      },
      () => this.options.store(item, signal),
    );
  }

  async stop() {
    this.controller.abort();
    await this.running;
  }
}
