import { hasCode } from '@cortex/errors';
import { backoffDelay, type Clock, isCallerFault, sleepUntil, systemClock } from '@cortex/resilience';
import type { ServiceClient } from './service-client';

export interface ResumableStreamOptions {
  /** The resource path, for example `events`. */
  path: string;
  query?: Record<string, string | number>;
  /** Where to resume from; updated from each message's SSE id. */
  lastEventId?: string | undefined;
  onItem(item: unknown, id: string | undefined): void;
  /** Called on every break, before the backoff wait. */
  onBreak?(err: unknown, attempt: number): void;
  onConnected?(): void;
  idleTimeoutMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  clock?: Clock;
  random?: () => number;
}

/**
 * Follows a live resource for as long as it is wanted: every break (refused, reset, in-band
 * error, server restart) is followed by a reconnect after a jittered backoff (cut short when the
 * client sees the service come back, see `ServiceClient.onRecovered`), resuming with
 * `Last-Event-ID` from the last id seen, so no item is skipped and none is repeated.
 */
export class ResumableStream {
  private readonly controller = new AbortController();
  private running: Promise<void> | undefined;
  lastEventId: string | undefined;
  connected = false;
  breaks = 0;

  constructor(
    private readonly client: ServiceClient,
    private readonly options: ResumableStreamOptions,
  ) {
    this.lastEventId = options.lastEventId;
  }

  start() {
    this.running ??= this.loop();
    return this;
  }

  private async loop() {
    const clock = this.options.clock ?? systemClock;
    const random = this.options.random ?? Math.random;
    const backoff = {
      baseDelayMs: this.options.baseDelayMs ?? 100,
      maxDelayMs: this.options.maxDelayMs ?? 5000,
      jitter: 'full' as const,
    };
    let failures = 0;
    let previous = 0;
    const signal = this.controller.signal;
    while (!signal.aborted) {
      let received = 0;
      const connectedAt = clock.now();
      try {
        const items = this.client.getResource(this.options.path, {
          signal,
          query: this.options.query ?? {},
          ...(this.options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: this.options.idleTimeoutMs }),
          ...(this.lastEventId === undefined ? {} : { lastEventId: this.lastEventId }),
          onOpen: () => {
            this.connected = true;
            this.options.onConnected?.();
          },
          onId: (id) => {
            this.lastEventId = id;
          },
        });
        for await (const item of items) {
          // A first frame alone (a position, then an in-band error) does not prove the stream
          // healthy: only further items do, or a connection that outlived the longest backoff.
          if (++received > 1) failures = 0;
          this.options.onItem(item, this.lastEventId);
        }
        // A live resource that ends (server shutting down) is a break like any other.
        throw new Error('stream ended');
      } catch (err) {
        this.connected = false;
        if (signal.aborted) return;
        this.breaks++;
        if (clock.now() - connectedAt > backoff.maxDelayMs) failures = 0;
        failures++;
        this.options.onBreak?.(err, failures);
        previous = backoffDelay(backoff, failures, previous, random);
        // The wait is sized for an outage; news that the service is back ends it.
        const wake = new AbortController();
        const off = this.client.onRecovered(() => wake.abort());
        await sleepUntil(
          clock,
          clock.now() + waitAfter(err, previous, backoff.maxDelayMs),
          AbortSignal.any([signal, wake.signal]),
        ).catch(() => {});
        off();
        if (wake.signal.aborted) {
          failures = 0;
          previous = 0;
        }
      }
    }
  }

  async close() {
    this.controller.abort();
    await this.running;
  }
}

/**
 * How long to stay away after a break: the backoff, but never less than the server's Retry-After;
 * and when the server says the request itself is wrong (the caller's fault, such as a 404), only
 * the longest backoff, since trying again sooner cannot help and a follower never gives up. (Our
 * own credentials refused, a 401/403, is a `server_error`: backed off like any outage.)
 */
function waitAfter(err: unknown, backoffMs: number, maxDelayMs: number): number {
  if (!hasCode(err)) return backoffMs;
  // Our own breaker's open period is no Retry-After from the server: it ends early on evidence of
  // health (which wakes this wait), and a refused attempt costs nothing.
  if (err.code === 'circuit_open') return backoffMs;
  if (isCallerFault(err) && err.code !== 'aborted') return Math.max(backoffMs, maxDelayMs);
  return Math.max(backoffMs, err.retryAfterMs ?? 0);
}
