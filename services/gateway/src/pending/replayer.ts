import { hasCode } from '@cortex/errors';
import { BackoffLoop, type Clock } from '@cortex/resilience';
import { linkFromTraceparent, withSpan } from '@cortex/telemetry';
import type { FastifyBaseLogger } from 'fastify';
import { refusedByMemory } from '../ingest/input-writer';
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
  /** Our backoff after a refused round (ended early by `resume()`) and memory's own Retry-After
   * (a floor nothing shortens). */
  private readonly backoff: BackoffLoop;
  /** Ends the wait for new items. */
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** The last round was refused: the next one is one item, the probe a half-open breaker admits. */
  private probing = false;
  stored = 0;
  dropped = 0;

  constructor(
    private readonly journal: PendingJournal,
    private readonly options: ReplayerOptions,
  ) {
    this.backoff = new BackoffLoop({
      name: 'memory.replay',
      backoff: {
        baseDelayMs: options.baseDelayMs ?? 200,
        maxDelayMs: options.maxDelayMs ?? 2000,
        jitter: 'full',
      },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  /** Refused rounds in a row. */
  get failures() {
    return this.backoff.failures;
  }

  /** The backoff's `background_retry` / `background_recovered` events (for logs). */
  get events() {
    return this.backoff.events;
  }

  start() {
    this.running ??= this.loop();
    return this;
  }

  /**
   * A new item was journalled: replay now unless we are backing off, and not before `retryAfterMs`
   * when memory just said when to come back (the replayer honours a Retry-After the request got).
   */
  kick(retryAfterMs?: number) {
    if (retryAfterMs !== undefined) this.backoff.holdOff(retryAfterMs);
    this.wake?.();
  }

  /**
   * Memory was seen coming back (a health check answered): the backoff, sized for an outage, ends
   * now and the next round starts at once (with one item, the probe). Memory's own Retry-After
   * still holds.
   */
  resume() {
    this.backoff.wake();
    this.wake?.();
  }

  private async loop() {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      const items = this.journal.live();
      if (items.length === 0) {
        await this.nextItem(signal);
        continue;
      }
      if (this.backoff.remainingMs > 0) {
        // `resume()` ends this wait, down to what is left of memory's Retry-After.
        await this.backoff.sleep(signal);
        continue;
      }
      // After refusals, one item goes first: the breaker lets one probe through, and a round of
      // sixteen would be refused around it and back off again.
      const refusal = await this.replay(this.probing ? items.slice(0, 1) : items, signal);
      if (refusal === 'none') {
        this.probing = false;
        this.backoff.succeeded();
        continue;
      }
      this.probing = true;
      this.backoff.failed(refusal.error);
      // Memory's Retry-After is a floor: never come back earlier than it asked.
      this.backoff.holdOff(refusal.pushbackMs);
    }
  }

  /** Until woken by `kick`, `resume` or the stop. */
  private async nextItem(signal: AbortSignal) {
    const woken = new AbortController();
    const done = () => woken.abort();
    this.wake = done;
    signal.addEventListener('abort', done, { once: true });
    try {
      await new Promise<void>((resolve) => woken.signal.addEventListener('abort', () => resolve()));
    } finally {
      signal.removeEventListener('abort', done);
      if (this.wake === done) this.wake = undefined;
    }
  }

  /**
   * Replays a batch; on a refusal, returns the longest Retry-After any refusal of the round carried
   * (one worker's Retry-After must not be forgotten because another was refused by the breaker).
   */
  private async replay(
    items: PendingItem[],
    signal: AbortSignal,
  ): Promise<'none' | { pushbackMs: number; error: unknown }> {
    const concurrency = this.options.concurrency ?? 16;
    let next = 0;
    let refused = false;
    let error: unknown;
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
            if (!refused) error = err;
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
    return refused ? { pushbackMs, error } : 'none';
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
