import { type Circuit, REJECTED } from './circuit';
import { CircuitBreaker, circuitOf } from './circuit-breaker';
import { type Attempt, type Chain, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext } from './policy';
import { rejectSoon } from './policy-errors';
import { TimeoutPolicy, timeAttempt } from './timeout';

/**
 * `wrap(breaker, timeout)` as one layer, with the same behaviour: the breaker admits the attempt,
 * the timeout races it, and the breaker hears the outcome (a timeout counts as a failure) from the
 * timed attempt itself rather than from an extra async layer: one promise per attempt fewer.
 * `wrap` builds it for every breaker directly outside a timeout and names it in its `layout`.
 */
export class GuardedTimeout implements Layer {
  private readonly circuit: Circuit;

  constructor(
    breaker: CircuitBreaker,
    private readonly timeout: TimeoutPolicy,
  ) {
    this.circuit = breaker[circuitOf];
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this[runLayer](fn, rootContext(signal, deadline), undefined, 0);
  }

  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    const circuit = this.circuit;
    const slot = circuit.enter();
    if (slot === REJECTED) return rejectSoon(circuit.takeRejection());
    return timeAttempt(this.timeout, fn, ctx, chain, index, circuit, slot);
  }
}

/** The fused layer for `outer` directly outside `inner`, when the pair has one. */
export function fusedPair(outer: Layer, inner: Layer | undefined): Layer | undefined {
  return outer instanceof CircuitBreaker && inner instanceof TimeoutPolicy
    ? new GuardedTimeout(outer, inner)
    : undefined;
}
