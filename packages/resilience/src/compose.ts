import { type Attempt, type AttemptContext, callNext, type Policy, rootContext } from './policy';

/**
 * Policies run outer → inner, in the order given. The chain is an array walked by index, so a
 * call through N layers allocates no per-layer closure.
 */
export class ComposedPolicy implements Policy {
  readonly policies: readonly Policy[];

  constructor(policies: readonly Policy[]) {
    // Nested compositions are flattened so that they, too, cost no extra closure per call.
    this.policies = policies.flatMap((p) => (p instanceof ComposedPolicy ? p.policies : [p]));
  }

  execute<T>(fn: Attempt<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return callNext(fn, rootContext(signal, deadline), this.policies, 0);
  }

  run<T>(fn: Attempt<T>, ctx: AttemptContext, chain?: readonly Policy[], index?: number): Promise<T> {
    if (chain === undefined || (index ?? 0) >= chain.length) return callNext(fn, ctx, this.policies, 0);
    // Used as one layer of someone else's chain: finish ours, then continue theirs.
    return callNext((inner) => callNext(fn, inner, chain, index), ctx, this.policies, 0);
  }
}

/** Composes policies, outermost first: `wrap(retry, breaker, timeout)`. */
export function wrap(...policies: Policy[]): ComposedPolicy {
  return new ComposedPolicy(policies);
}
