import { type CodedError, CortexError } from '@cortex/errors';
import { backoffDelay, type Jitter } from './backoff';
import { classify, isRetriable } from './classify';
import { type Clock, systemClock } from './clock';
import { Emitter, type GiveUpReason } from './events';
import { type Attempt, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext } from './policy';
import { abortError } from './policy-errors';
import { RetryBudget } from './retry-budget';
import { sleepUntil } from './sleep';

export interface RetryOptions {
  /** Attempts in total, the first included. Default 3. */
  maxAttempts?: number;
  /** Backoff before the first retry (before jitter). Default 100 ms. */
  baseDelayMs?: number;
  /** Cap on the exponential backoff. Default 10 000 ms. */
  maxDelayMs?: number;
  /** Growth of the backoff per attempt. Default 2. */
  multiplier?: number;
  /** Default 'full'. */
  jitter?: Jitter;
  /**
   * The longest server-requested wait (Retry-After, `retryAfterMs` on the error) we accept; a
   * longer one makes us give up rather than retry before the server asked. Default 30 000 ms.
   */
  maxRetryAfterMs?: number;
  /** Which (classified) errors are worth another attempt. Default `isRetriable`. */
  shouldRetry?: (err: CodedError, attempt: number) => boolean;
  /** Share one per upstream; `false` disables. Default: a budget of this policy's own. */
  budget?: RetryBudget | false;
  clock?: Clock;
  /** [0, 1) source for jitter. Default Math.random. */
  random?: () => number;
}

/**
 * Retries failed attempts with capped exponential backoff and jitter, honouring the server's
 * Retry-After, the caller's signal and total deadline, and a retry budget.
 *
 * Errors leave as classified CortexErrors (the original as `cause`). When this layer has used up
 * its retries (attempts, budget, deadline), the error is marked `noRetry` so that a retry layer
 * further out does not multiply the attempts (3 layers × 4 attempts = 64 calls).
 */
export class RetryPolicy implements Layer {
  readonly events = new Emitter();
  readonly maxAttempts: number;
  readonly budget: RetryBudget | undefined;
  private readonly backoff: { baseDelayMs: number; maxDelayMs: number; jitter: Jitter; multiplier: number };
  private readonly maxRetryAfterMs: number;
  private readonly shouldRetry: (err: CodedError, attempt: number) => boolean;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(options: RetryOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
    if (!(this.maxAttempts >= 1)) throw new RangeError('maxAttempts must be >= 1');
    this.backoff = {
      baseDelayMs: options.baseDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      jitter: options.jitter ?? 'full',
      multiplier: options.multiplier ?? 2,
    };
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.shouldRetry = options.shouldRetry ?? isRetriable;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.budget =
      options.budget === false ? undefined : (options.budget ?? new RetryBudget({ clock: this.clock }));
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this[runLayer](fn, rootContext(signal, deadline), undefined, 0);
  }

  async [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    this.budget?.recordRequest();
    const { signal, deadline } = ctx;
    let attemptCtx = ctx.attempt === 1 ? ctx : { signal, attempt: 1, deadline };
    let attempt = 1;
    let previousDelay = 0;
    for (;;) {
      try {
        return await callNext(fn, attemptCtx, chain, index);
      } catch (raw) {
        const err = classify(raw);
        const decision = this.decide(err, attempt, previousDelay, ctx);
        if (typeof decision === 'string') throw this.giveUp(err, decision, attempt, signal);
        const { at, backoff } = decision;
        if (this.events.active) {
          this.events.emit({ type: 'retry', attempt, delayMs: at - this.clock.now(), reason: err.code });
        }
        try {
          await sleepUntil(this.clock, at, signal);
        } catch {
          throw this.giveUp(err, 'aborted', attempt, signal);
        }
        previousDelay = backoff;
        attempt++;
        attemptCtx = { signal, attempt, deadline };
      }
    }
  }

  /** When to start the next attempt (absolute time) and the backoff part of the wait, or why not to. */
  private decide(
    err: CodedError,
    attempt: number,
    previousDelay: number,
    ctx: AttemptContext,
  ): { at: number; backoff: number } | GiveUpReason {
    if (ctx.signal?.aborted) return 'aborted';
    if (err.noRetry === true) return 'no_retry';
    if (!this.shouldRetry(err, attempt)) return 'not_retriable';
    if (attempt >= this.maxAttempts) return 'max_attempts';
    const retryAfter = err.retryAfterMs;
    if (retryAfter !== undefined && retryAfter > this.maxRetryAfterMs) return 'retry_after_too_long';
    const backoff = backoffDelay(this.backoff, attempt, previousDelay, this.random);
    // The server's Retry-After is a floor, never shortened by a smaller backoff.
    const at = this.clock.now() + Math.max(backoff, retryAfter ?? 0);
    if (ctx.deadline !== undefined && at >= ctx.deadline) return 'deadline';
    // Last, so that a retry we would not make anyway does not spend budget.
    if (this.budget !== undefined && !this.budget.tryAcquire()) return 'budget';
    return { at, backoff };
  }

  private giveUp(err: CodedError, reason: GiveUpReason, attempts: number, signal?: AbortSignal): unknown {
    const final = reason === 'aborted' && signal?.aborted ? abortError(signal) : err;
    if (this.events.active) this.events.emit({ type: 'give_up', attempts, reason, code: final.code });
    const exhausted =
      reason === 'budget' ||
      reason === 'deadline' ||
      reason === 'retry_after_too_long' ||
      (reason === 'max_attempts' && this.maxAttempts > 1);
    if (!exhausted || final.noRetry === true) return final;
    return new CortexError(final.code, final.message, {
      status: final.status,
      details: final.details,
      retryAfterMs: final.retryAfterMs,
      cause: final,
      noRetry: true,
    });
  }
}
