import { type BackoffOptions, backoffDelay } from './backoff';
import { classify } from './classify';
import { type Clock, systemClock, unrefTimer } from './clock';
import { Emitter, type ResilienceEvent } from './events';

export interface BackoffLoopOptions {
  /** Names the loop in its events, e.g. `memory.probe` or `gateway.replay`. */
  name: string;
  backoff: BackoffOptions;
  /**
   * Periodic work (health checks): after a success `run` comes back this much later. Without it
   * `run` ends at the first success.
   */
  everyMs?: number;
  clock?: Clock;
  random?: () => number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** The least wait after `err` (a server's Retry-After); `wake()` still ends it. */
  minDelayMs?: (err: unknown) => number;
  /** Told about every failure, after the wait was decided (`attempt` counts failures in a row). */
  onFailure?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * The one backoff loop for background work (reconnects, probes, replays, health checks): after
 * each failure it waits `backoffDelay` (exponential, jittered, capped), a success starts the
 * sequence over, waits end at once on abort, and `wake()` (evidence that the other side is back,
 * such as a passing health check) ends the current wait and the backoff. A hold-off the other
 * side asked for (`holdOff`) is kept even then: a retry never comes earlier than it was told.
 *
 * Drive it with `run(step)`, or by hand (`failed`, `succeeded`, `sleep`) when the loop has a
 * shape of its own. It emits `background_retry` and `background_recovered` events.
 */
export class BackoffLoop {
  readonly events = new Emitter<ResilienceEvent>();
  readonly name: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private failureCount = 0;
  private previousMs = 0;
  /** The backoff (or the periodic interval): `wake()` ends it. */
  private backoffUntil = Number.NEGATIVE_INFINITY;
  /** What the other side asked for: `wake()` keeps it. */
  private holdUntil = Number.NEGATIVE_INFINITY;
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly options: BackoffLoopOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** Failures in a row since the last success or `wake()`. */
  get failures(): number {
    return this.failureCount;
  }

  /** Milliseconds until the next attempt is due (0 when due): the honest Retry-After meanwhile. */
  get remainingMs(): number {
    return Math.max(0, Math.max(this.backoffUntil, this.holdUntil) - this.clock.now());
  }

  /**
   * An attempt failed: the next one is due after the next backoff delay, or after `minDelayMs`
   * if longer. Returns the wait.
   */
  failed(err: unknown, minDelayMs = 0): number {
    this.failureCount++;
    this.previousMs = backoffDelay(this.options.backoff, this.failureCount, this.previousMs, this.random);
    const delayMs = Math.max(this.previousMs, minDelayMs);
    this.backoffUntil = this.clock.now() + delayMs;
    if (this.events.active) {
      this.events.emit({
        type: 'background_retry',
        loop: this.name,
        attempt: this.failureCount,
        delayMs,
        code: classify(err).code,
      });
    }
    return delayMs;
  }

  /** An attempt succeeded: no wait, and the next failure backs off from the start. */
  succeeded(): void {
    if (this.failureCount > 0 && this.events.active) {
      this.events.emit({ type: 'background_recovered', loop: this.name, failures: this.failureCount });
    }
    this.restart();
  }

  /** No attempt before `ms` from now, whatever else happens (the other side's Retry-After). */
  holdOff(ms: number): void {
    if (ms > 0) this.holdUntil = Math.max(this.holdUntil, this.clock.now() + ms);
  }

  /**
   * Evidence that the other side is back: the wait in progress ends (down to a hold-off) and the
   * backoff starts over.
   */
  wake(): void {
    this.restart();
    for (const wakeUp of [...this.sleepers]) wakeUp();
  }

  /**
   * Waits until the next attempt is due. Resolves true then, false once `signal` aborts (at once,
   * with the timer and the listener gone).
   */
  async sleep(signal?: AbortSignal): Promise<boolean> {
    // Re-read after every wake-up: `wake()` may leave a hold-off, `holdOff` may have moved it.
    for (let left = this.remainingMs; left > 0 && !signal?.aborted; left = this.remainingMs) {
      await this.sleepAtMost(left, signal);
    }
    return !signal?.aborted;
  }

  /**
   * Runs `step` until it succeeds, or with `everyMs` again and again, backing off after each
   * failure, until `signal` aborts. Never rejects: a background failure is reported (events,
   * `onFailure`) and retried, not thrown at whoever started the loop.
   */
  async run(
    step: (signal: AbortSignal | undefined) => Promise<void>,
    options: RunOptions = {},
  ): Promise<void> {
    const { signal } = options;
    while (await this.sleep(signal)) {
      try {
        await step(signal);
      } catch (err) {
        if (signal?.aborted) return;
        const delayMs = this.failed(err, options.minDelayMs?.(err) ?? 0);
        options.onFailure?.(err, this.failureCount, delayMs);
        continue;
      }
      this.succeeded();
      if (this.options.everyMs === undefined) return;
      this.backoffUntil = this.clock.now() + this.options.everyMs;
    }
  }

  private restart() {
    this.failureCount = 0;
    this.previousMs = 0;
    this.backoffUntil = Number.NEGATIVE_INFINITY;
  }

  private sleepAtMost(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, ms);
      // A background wait is not work: it must not keep a stopping process alive.
      unrefTimer(timer);
      signal?.addEventListener('abort', done, { once: true });
      this.sleepers.add(done);
    });
  }
}
