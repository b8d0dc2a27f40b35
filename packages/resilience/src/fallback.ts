import type { CodedError, ErrorCode } from '@cortex/errors';
import { classify, isCallerFault } from './classify';
import { type Clock, systemClock } from './clock';
import { Emitter } from './events';
import { type Attempt, rootContext } from './layer';
import type { AttemptContext, Policy } from './policy';

/** Another way to get the answer (a replica, a secondary store), tried in order. */
type Alternative<R> = (ctx: AttemptContext, err: CodedError) => Promise<R>;

/** Where which fallback answered, as `resolve` reports it (and the `fallback` event). */
export type FallbackSource = 'value' | 'last_good' | 'computed' | 'chain';

/**
 * Keeps last good answers by key (a user, a query). Bound it: the policy stores every success.
 * `at` is the policy clock's time of the answer.
 */
export interface LastGoodStore<K, R> {
  get(key: K): { value: R; at: number } | undefined;
  set(key: K, value: R, at: number): void;
}

export interface FallbackOptions<R, K = void> {
  /** Tried first, in order, until one succeeds. */
  alternatives?: readonly Alternative<R>[];
  /**
   * Serve the last successful answer for the call's key (optionally only if younger than
   * maxAgeMs). Default store: one slot, served only for the key it was stored under.
   */
  lastGood?: boolean | { maxAgeMs?: number; store?: LastGoodStore<K, R> };
  /** Build an answer from the error (and the call's key). */
  compute?: (err: CodedError, ctx: AttemptContext, key: K) => R | Promise<R>;
  /** A static answer, the last resort. Presence of the key counts, so `undefined` is allowed. */
  value?: R;
  /** Which (classified) errors to cover. Default: all but the caller's own (aborts, 4xx). */
  when?: (err: CodedError) => boolean;
  clock?: Clock;
}

export interface FallbackCall<K> {
  signal?: AbortSignal | undefined;
  deadline?: number | undefined;
  /** Whose answer this is: last good answers are kept and served per key. */
  key?: K;
}

/** An answer, and whether (and why) it came from a fallback rather than the call itself. */
export interface Resolved<R> {
  value: R;
  fallback?: { source: FallbackSource; code: ErrorCode };
}

/**
 * The errors that mean "the dependency is away" rather than "it answered wrongly": an open
 * circuit, a refused or broken connection, a timeout, an overloaded or unavailable service, any 5xx.
 * A malformed answer (`data_error`) or a caller's mistake is not hidden behind a fallback.
 */
export function isUnavailable(err: CodedError): boolean {
  switch (err.code) {
    case 'circuit_open':
    case 'connection':
    case 'timeout':
    case 'service_unavailable':
    case 'server_error':
    case 'overloaded':
    case 'bulkhead_full':
    case 'rate_limited':
      return true;
    case 'data_error':
      return false;
    default:
      // A failure the dependency reported as its own (500 `tool_execution_error`, …).
      return (err.status ?? 0) >= 500;
  }
}

class SingleSlot<K, R> implements LastGoodStore<K, R> {
  private slot: { key: K; value: R; at: number } | undefined;
  get(key: K) {
    return this.slot !== undefined && Object.is(this.slot.key, key) ? this.slot : undefined;
  }
  set(key: K, value: R, at: number) {
    this.slot = { key, value, at };
  }
}

/**
 * Answers with something else when the protected call fails: alternatives first (real data),
 * then the last good answer for the key (real but stale), then a computed one, then a static
 * value. If none applies, the original error goes on. Typed by its answer, so it wraps a policy
 * rather than being one layer among others: `withFallback(policy, { value: [] })`. `resolve`
 * also says whether a fallback answered, so a caller can mark a degraded answer as such.
 */
export class FallbackPolicy<R, K = void> {
  readonly events = new Emitter();
  private readonly when: (err: CodedError) => boolean;
  private readonly maxAgeMs: number;
  private readonly clock: Clock;
  private readonly store: LastGoodStore<K, R> | undefined;

  constructor(
    private readonly options: FallbackOptions<R, K>,
    private readonly inner?: Policy,
  ) {
    this.when = options.when ?? ((err) => !isCallerFault(err));
    const lastGood = options.lastGood;
    const enabled = lastGood !== undefined && lastGood !== false;
    this.maxAgeMs = !enabled
      ? -1
      : lastGood === true
        ? Number.POSITIVE_INFINITY
        : (lastGood.maxAgeMs ?? Number.POSITIVE_INFINITY);
    this.store = !enabled
      ? undefined
      : ((lastGood === true ? undefined : lastGood.store) ?? new SingleSlot<K, R>());
    this.clock = options.clock ?? systemClock;
  }

  async execute(fn: Attempt<R>, signal?: AbortSignal, deadline?: number): Promise<R> {
    return (await this.resolve(fn, { signal, deadline })).value;
  }

  /** Like `execute`, for one key, and saying whether a fallback answered. */
  async resolve(fn: Attempt<R>, call: FallbackCall<K> = {}): Promise<Resolved<R>> {
    const { signal, deadline } = call;
    const key = call.key as K;
    const ctx = rootContext(signal, deadline);
    let value: R;
    try {
      value = await (this.inner === undefined ? fn(ctx) : this.inner.execute(fn, signal, deadline));
    } catch (raw) {
      const err = classify(raw);
      if (!this.when(err)) throw err;
      return this.recover(err, ctx, key);
    }
    this.store?.set(key, value, this.clock.now());
    return { value };
  }

  private async recover(err: CodedError, ctx: AttemptContext, key: K): Promise<Resolved<R>> {
    for (const alternative of this.options.alternatives ?? []) {
      if (ctx.signal?.aborted) break;
      try {
        const value = await alternative(ctx, err);
        return this.answered(value, err, 'chain');
      } catch {
        // The next alternative, or the fallbacks below, answer instead.
      }
    }
    const last = this.store?.get(key);
    if (last !== undefined && this.clock.now() - last.at <= this.maxAgeMs) {
      return this.answered(last.value, err, 'last_good');
    }
    if (this.options.compute !== undefined) {
      return this.answered(await this.options.compute(err, ctx, key), err, 'computed');
    }
    if ('value' in this.options) return this.answered(this.options.value as R, err, 'value');
    throw err;
  }

  private answered(value: R, err: CodedError, source: FallbackSource): Resolved<R> {
    if (this.events.active) this.events.emit({ type: 'fallback', code: err.code, source });
    return { value, fallback: { source, code: err.code } };
  }
}

/** `policy` with a fallback around it. */
export function withFallback<R, K = void>(
  inner: Policy | undefined,
  options: FallbackOptions<R, K>,
): FallbackPolicy<R, K> {
  return new FallbackPolicy(options, inner);
}
