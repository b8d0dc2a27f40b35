import type { CodedError } from '@cortex/errors';
import { classify, isCallerFault } from './classify';
import { type Clock, systemClock } from './clock';
import { Emitter } from './events';
import { type Attempt, type AttemptContext, type Policy, rootContext } from './policy';

/** Another way to get the answer (a replica, a secondary store), tried in order. */
export type Alternative<R> = (ctx: AttemptContext, err: CodedError) => Promise<R>;

export interface FallbackOptions<R> {
  /** Tried first, in order, until one succeeds. */
  alternatives?: readonly Alternative<R>[];
  /** Serve the last successful answer (optionally only if younger than maxAgeMs). */
  lastGood?: boolean | { maxAgeMs: number };
  /** Build an answer from the error. */
  compute?: (err: CodedError, ctx: AttemptContext) => R | Promise<R>;
  /** A static answer, the last resort. Presence of the key counts, so `undefined` is allowed. */
  value?: R;
  /** Which (classified) errors to cover. Default: all but the caller's own (aborts, 4xx). */
  when?: (err: CodedError) => boolean;
  clock?: Clock;
}

/**
 * Answers with something else when the protected call fails: alternatives first (real data),
 * then the last good answer (real but stale), then a computed one, then a static value. If none
 * applies, the original error goes on. Typed by its answer, so it wraps a policy rather than
 * being one layer among others: `withFallback(policy, { value: [] })`.
 */
export class FallbackPolicy<R> {
  readonly events = new Emitter();
  private readonly when: (err: CodedError) => boolean;
  private readonly maxAgeMs: number;
  private readonly clock: Clock;
  private last: { value: R; at: number } | undefined;

  constructor(
    private readonly options: FallbackOptions<R>,
    private readonly inner?: Policy,
  ) {
    this.when = options.when ?? ((err) => !isCallerFault(err));
    const lastGood = options.lastGood;
    this.maxAgeMs =
      lastGood === undefined || lastGood === false
        ? -1
        : lastGood === true
          ? Number.POSITIVE_INFINITY
          : lastGood.maxAgeMs;
    this.clock = options.clock ?? systemClock;
  }

  async execute(fn: Attempt<R>, signal?: AbortSignal, deadline?: number): Promise<R> {
    const ctx = rootContext(signal, deadline);
    let value: R;
    try {
      value = await (this.inner === undefined ? fn(ctx) : this.inner.execute(fn, signal, deadline));
    } catch (raw) {
      const err = classify(raw);
      if (!this.when(err)) throw err;
      return this.recover(err, ctx);
    }
    if (this.maxAgeMs >= 0) this.last = { value, at: this.clock.now() };
    return value;
  }

  private async recover(err: CodedError, ctx: AttemptContext): Promise<R> {
    for (const alternative of this.options.alternatives ?? []) {
      if (ctx.signal?.aborted) break;
      try {
        const value = await alternative(ctx, err);
        this.emit(err, 'chain');
        return value;
      } catch {
        // The next alternative, or the fallbacks below, answer instead.
      }
    }
    const last = this.last;
    if (last !== undefined && this.clock.now() - last.at <= this.maxAgeMs) {
      this.emit(err, 'last_good');
      return last.value;
    }
    if (this.options.compute !== undefined) {
      const value = await this.options.compute(err, ctx);
      this.emit(err, 'computed');
      return value;
    }
    if ('value' in this.options) {
      this.emit(err, 'value');
      return this.options.value as R;
    }
    throw err;
  }

  private emit(err: CodedError, source: 'value' | 'last_good' | 'computed' | 'chain'): void {
    if (this.events.active) this.events.emit({ type: 'fallback', code: err.code, source });
  }
}

/** `policy` with a fallback around it. */
export function withFallback<R>(inner: Policy | undefined, options: FallbackOptions<R>): FallbackPolicy<R> {
  return new FallbackPolicy(options, inner);
}
