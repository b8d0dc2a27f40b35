import type { CodedError } from '@cortex/errors';
import type { Circuit } from './circuit';
import { type Clock, systemClock } from './clock';
import { Emitter } from './events';
import { type Attempt, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext } from './policy';
import { abortError, fastError, rejectSoon } from './policy-errors';
import { sharedWheel, type TimerWheel, WheelEntry } from './timer-wheel';

export interface TimeoutOptions {
  /** Per-attempt limit; 0 or Infinity leaves only the caller's deadline. */
  timeoutMs: number;
  clock?: Clock;
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
export class TimeoutPolicy implements Layer {
  readonly events = new Emitter();
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly wheel: TimerWheel;

  constructor(options: TimeoutOptions) {
    if (!(options.timeoutMs >= 0)) throw new RangeError('timeoutMs must be >= 0');
    this.timeoutMs = options.timeoutMs === 0 ? Number.POSITIVE_INFINITY : options.timeoutMs;
    this.clock = options.clock ?? systemClock;
    // One wheel per clock, shared by every policy on it.
    this.wheel = sharedWheel(this.clock);
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return timeAttempt(this, fn, rootContext(signal, deadline), undefined, 0);
  }

  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    return timeAttempt(this, fn, ctx, chain, index);
  }

  /** The error for a passed deadline (and its event). */
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
 * Runs one attempt under `policy`'s timeout (internal: the layer protocol). `admittedBy` is set
 * when a circuit breaker directly outside admitted the attempt into `slot` (`wrap(breaker,
 * timeout)`, see `GuardedTimeout`): the attempt then reports its outcome to the breaker itself,
 * one promise serving both layers.
 */
export function timeAttempt<T>(
  policy: TimeoutPolicy,
  fn: Attempt<T>,
  ctx: AttemptContext,
  chain: Chain,
  index: number,
  admittedBy?: Circuit,
  slot?: number,
): Promise<T> {
  const now = policy.clock.now();
  let deadline = now + policy.timeoutMs;
  let kind: 'attempt' | 'deadline' = 'attempt';
  if (ctx.deadline !== undefined && ctx.deadline <= deadline) {
    deadline = ctx.deadline;
    kind = 'deadline';
  }
  if (deadline === Number.POSITIVE_INFINITY && admittedBy === undefined)
    return callNext(fn, ctx, chain, index);
  const parent = ctx.signal;
  if (deadline <= now || parent?.aborted) {
    // Refused before the dependency saw anything: no verdict on its health.
    admittedBy?.cancel(slot!, admittedBy.epoch);
    return rejectSoon(parent?.aborted ? abortError(parent) : policy.timeoutError(kind));
  }
  return new Promise<T>((resolve, reject) => {
    const call = new TimedAttempt<T>(policy, parent, ctx.attempt, kind, resolve, reject);
    if (admittedBy !== undefined) call.admitted(admittedBy, slot!);
    if (deadline !== Number.POSITIVE_INFINITY) {
      call.deadline = deadline;
      policy.wheel.add(call, deadline);
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
  /** The breaker that admitted this attempt, and where: told of the outcome (see `admitted`). */
  private circuit: Circuit | undefined;
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

  admitted(circuit: Circuit, slot: number): void {
    this.circuit = circuit;
    this.slot = slot;
    this.generation = circuit.epoch;
    this.startedAt = circuit.startTime();
  }

  succeed(value: T): void {
    if (this.done) return;
    this.cleanup();
    this.circuit?.leave(this.slot, this.generation, this.startedAt, undefined, false);
    this.resolve(value);
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.cleanup();
    this.circuit?.leave(this.slot, this.generation, this.startedAt, err, true);
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
