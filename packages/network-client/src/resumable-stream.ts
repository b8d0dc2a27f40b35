import { hasCode } from '@cortex/errors';
import { BackoffLoop, type Clock, isCallerFault, systemClock } from '@cortex/resilience';
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
  private readonly reconnects: BackoffLoop;
  private readonly clock: Clock;
  private running: Promise<void> | undefined;
  lastEventId: string | undefined;
  connected = false;
  breaks = 0;

  constructor(
    private readonly client: ServiceClient,
    private readonly options: ResumableStreamOptions,
  ) {
    this.lastEventId = options.lastEventId;
    this.clock = options.clock ?? systemClock;
    this.reconnects = new BackoffLoop({
      name: `${client.service}.${options.path}`,
      backoff: {
        baseDelayMs: options.baseDelayMs ?? 100,
        maxDelayMs: options.maxDelayMs ?? 5000,
        jitter: 'full',
      },
      clock: this.clock,
      ...(options.random ? { random: options.random } : {}),
    });
  }

  /** The reconnect loop's `background_retry` / `background_recovered` events (for logs). */
  get events() {
    return this.reconnects.events;
  }

  start() {
    this.running ??= this.loop();
    return this;
  }

  private async loop() {
    const maxDelayMs = this.options.maxDelayMs ?? 5000;
    // The wait is sized for an outage; news that the service is back ends it.
    const off = this.client.onRecovered(() => this.reconnects.wake());
    try {
      await this.reconnects.run((signal) => this.follow(signal as AbortSignal), {
        signal: this.controller.signal,
        minDelayMs: (err) => leastWait(err, maxDelayMs),
        onFailure: (err, attempt) => {
          this.breaks++;
          this.options.onBreak?.(err, attempt);
        },
      });
    } finally {
      off();
    }
  }

  /** One connection, for as long as it lasts; always ends in a rejection (a break or the abort). */
  private async follow(signal: AbortSignal): Promise<void> {
    let received = 0;
    const connectedAt = this.clock.now();
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
        if (++received === 2) this.reconnects.succeeded();
        this.options.onItem(item, this.lastEventId);
      }
      // A live resource that ends (server shutting down) is a break like any other.
      throw new Error('stream ended');
    } catch (err) {
      this.connected = false;
      if (this.clock.now() - connectedAt > (this.options.maxDelayMs ?? 5000)) this.reconnects.succeeded();
      throw err;
    }
  }

  async close() {
    this.controller.abort();
    await this.running;
  }
}

/**
 * The least wait after a break (the backoff applies above it): the server's Retry-After; and
 * when the server says the request itself is wrong (the caller's fault, such as a 404), the
 * longest backoff, since trying again sooner cannot help and a follower never gives up. (Our
 * own credentials refused, a 401/403, is a `server_error`: backed off like any outage.)
 */
function leastWait(err: unknown, maxDelayMs: number): number {
  if (!hasCode(err)) return 0;
  // Our own breaker's open period is no Retry-After from the server: it ends early on evidence of
  // health (which wakes the wait), and a refused attempt costs nothing.
  if (err.code === 'circuit_open') return 0;
  if (isCallerFault(err) && err.code !== 'aborted') return maxDelayMs;
  return err.retryAfterMs ?? 0;
}
