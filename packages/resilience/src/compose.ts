import { CircuitBreaker } from './circuit-breaker';
import { GuardedTimeout } from './guarded-timeout';
import { type Attempt, type AttemptContext, callNext, type Policy, rootContext } from './policy';
import { TimeoutPolicy } from './timeout';

/**
 * Policies run outer → inner, in the order given. The chain is an array walked by index, so a
 * call through N layers allocates no per-layer closure.
 */
export class ComposedPolicy implements Policy {
  readonly policies: readonly Policy[];

  constructor(policies: readonly Policy[]) {
    this.policies = fuse(policies);
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

/**
 * The chain to run: nested compositions flattened (no extra closure per call), and each breaker
 * directly outside a timeout fused with it into one layer (one promise per attempt fewer).
 */
export function fuse(policies: readonly Policy[]): Policy[] {
  const flat = policies.flatMap((p) => (p instanceof ComposedPolicy ? p.policies : [p]));
  const out: Policy[] = [];
  for (let i = 0; i < flat.length; i++) {
    const p = flat[i]!;
    const next = flat[i + 1];
    if (p instanceof CircuitBreaker && next instanceof TimeoutPolicy) {
      out.push(new GuardedTimeout(p, next));
      i++;
    } else out.push(p);
  }
  return out;
}
