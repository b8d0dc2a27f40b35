import type { CodedError } from '@cortex/errors';
import { type Clock, systemClock } from './clock';
import { Emitter } from './events';
import { type Attempt, type AttemptContext, callNext, type Policy, rootContext } from './policy';
import { abortError, fastError, rejectSoon } from './policy-errors';
import { sharedWheel, type TimerWheel, WheelEntry } from './timer-wheel';

export interface TimeoutOptions {
  /** Per-attempt limit; 0 or Infinity leaves only the caller's deadline. */
  timeoutMs: number;
  clock?: Clock;
  /** Defaults to the wheel shared by every policy on the same clock. */
  wheel?: TimerWheel;
}

/** @internal What a circuit breaker fused with a timeout needs to hear about each attempt. */
export interface AttemptGuard {
  leave(slot: number, generation: number, start: number, err: unknown, failed: boolean): void;
  cancel(slot: number, generation: number): void;
}

/**
 * A `timeout` because the caller's deadline (or the policy's total) ran out before the attempt's
 * own limit: the caller's budget, not the dependency's slowness.
 */
export function isDeadlineCut(err: { code: string; details?: unknown }): boolean {
  return err.code === 'timeout' && (err.details as { kind?: unknown } | undefined)?.kind === 'deadline';
}

/**
 * Rejects an attempt with `timeout` when it outlives `timeoutMs` or the total deadline
 * (`ctx.deadline`), whichever comes first, and aborts the attempt's signal so the work stops.
 *
 * On the success path it creates no timer (deadlines sit on a shared wheel) and no
 * AbortController (one is made only if the function reads `ctx.signal`).
 */
export class TimeoutPolicy implements Policy {
  readonly events = new Emitter();
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly wheel: TimerWheel;

  constructor(options: TimeoutOptions) {
    if (!(options.timeoutMs >= 0)) throw new RangeError('timeoutMs must be >= 0');
    this.timeoutMs = options.timeoutMs === 0 ? Number.POSITIVE_INFINITY : options.timeoutMs;
    this.clock = options.clock ?? systemClock;
    this.wheel = options.wheel ?? sharedWheel(this.clock);
  }

  execute<T>(fn: Attempt<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this.run(fn, rootContext(signal, deadline));
  }

  run<T>(fn: Attempt<T>, ctx: AttemptContext, chain?: readonly Policy[], index?: number): Promise<T> {
    return this.start(fn, ctx, chain, index, undefined, -1, 0, 0);
  }

  /**
   * @internal `run`, optionally reporting the outcome to a breaker admitted just outside: one
   * promise per attempt serves both, where `wrap(breaker, timeout)` unfused would need two.
   */
  start<T>(
    fn: Attempt<T>,
    ctx: AttemptContext,
    chain: readonly Policy[] | undefined,
    index: number | undefined,
    guard: AttemptGuard | undefined,
    slot: number,
    generation: number,
    startedAt: number,
  ): Promise<T> {
    const now = this.clock.now();
    let deadline = now + this.timeoutMs;
    let kind: 'attempt' | 'deadline' = 'attempt';
    if (ctx.deadline !== undefined && ctx.deadline <= deadline) {
      deadline = ctx.deadline;
      kind = 'deadline';
    }
    if (deadline === Number.POSITIVE_INFINITY && guard === undefined) return callNext(fn, ctx, chain, index);
    const parent = ctx.signal;
    if (deadline <= now || parent?.aborted) {
      // Refused before the dependency saw anything: no verdict on its health.
      guard?.cancel(slot, generation);
      return rejectSoon(parent?.aborted ? abortError(parent) : this.timeoutError(kind));
    }
    return new Promise<T>((resolve, reject) => {
      const call = new TimedAttempt<T>(this, parent, ctx.attempt, kind, resolve, reject);
      if (guard !== undefined) call.guard(guard, slot, generation, startedAt);
      if (deadline !== Number.POSITIVE_INFINITY) {
        call.deadline = deadline;
        this.wheel.add(call, deadline);
      }
      parent?.addEventListener('abort', call);
      let result: Promise<T>;
      try {
        result = callNext(fn, call, chain, index);
      } catch (err) {
        call.fail(err);
        return;
      }
      result.then(
        (value) => call.succeed(value),
        (err: unknown) => call.fail(err),
      );
    });
  }

  /** @internal */
  timeoutError(kind: 'attempt' | 'deadline'): CodedError {
    if (this.events.active) this.events.emit({ type: 'timeout', timeoutMs: this.timeoutMs, kind });
    // `details.kind` tells the dependency's own slowness ('attempt') from the caller's budget
    // running out ('deadline'), which a breaker may choose not to hold against the dependency.
    return fastError(
      'timeout',
      kind === 'attempt' ? `attempt timed out after ${this.timeoutMs} ms` : 'deadline exceeded',
      { details: { kind } },
    );
  }
}

/**
 * One timed attempt: the wheel entry, the abort listener on the caller's signal
 * (`handleEvent`, so no closure), and the context handed to the function, in one object.
 */
class TimedAttempt<T> extends WheelEntry implements AttemptContext {
  /** The effective deadline handed to the function: min(attempt timeout, total deadline). */
  deadline: number | undefined;
  private controller: AbortController | undefined;
  private done = false;
  private reason: unknown;
  private guardedBy: AttemptGuard | undefined;
  private slot = -1;
  private generation = 0;
  private startedAt = 0;

  constructor(
    private readonly policy: TimeoutPolicy,
    private readonly parent: AbortSignal | undefined,
    readonly attempt: number,
    private readonly kind: 'attempt' | 'deadline',
    private readonly resolve: (value: T) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    super();
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      // Read late (after a timeout or the caller's abort): hand out an already aborted signal.
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  guard(guard: AttemptGuard, slot: number, generation: number, startedAt: number): void {
    this.guardedBy = guard;
    this.slot = slot;
    this.generation = generation;
    this.startedAt = startedAt;
  }

  succeed(value: T): void {
    if (this.done) return;
    this.cleanup();
    this.guardedBy?.leave(this.slot, this.generation, this.startedAt, undefined, false);
    this.resolve(value);
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.cleanup();
    this.guardedBy?.leave(this.slot, this.generation, this.startedAt, err, true);
    this.reject(err);
  }

  /** The wheel says the deadline has passed. */
  expire(): void {
    if (this.done) return;
    this.abortWith(this.policy.timeoutError(this.kind));
  }

  /** The caller's signal fired. */
  handleEvent(): void {
    if (this.done || this.parent === undefined) return;
    this.abortWith(abortError(this.parent));
  }

  private abortWith(err: CodedError): void {
    this.reason = err;
    this.controller?.abort(err);
    this.fail(err);
  }

  private cleanup(): void {
    this.done = true;
    this.policy.wheel.remove(this);
    this.parent?.removeEventListener('abort', this);
  }
}
