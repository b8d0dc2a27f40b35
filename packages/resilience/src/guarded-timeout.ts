import { type CircuitBreaker, REJECTED } from './circuit-breaker';
import { type Attempt, type AttemptContext, type Policy, rootContext } from './policy';
import { rejectSoon } from './policy-errors';
import type { TimeoutPolicy } from './timeout';

/**
 * `wrap(breaker, timeout)` as one layer, with the same behaviour: the breaker admits the attempt,
 * the timeout races it, and the breaker hears the outcome (a timeout counts as a failure) from the
 * timed attempt itself rather than from an extra async layer. `wrap` fuses such pairs by itself.
 */
export class GuardedTimeout implements Policy {
  constructor(
    readonly breaker: CircuitBreaker,
    readonly timeout: TimeoutPolicy,
  ) {}

  execute<T>(fn: Attempt<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this.run(fn, rootContext(signal, deadline));
  }

  run<T>(fn: Attempt<T>, ctx: AttemptContext, chain?: readonly Policy[], index?: number): Promise<T> {
    const breaker = this.breaker;
    const slot = breaker.enter();
    if (slot === REJECTED) return rejectSoon(breaker.takeRejection());
    return this.timeout.start(fn, ctx, chain, index, breaker, slot, breaker.epoch, breaker.startTime());
  }
}
