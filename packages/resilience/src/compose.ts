import { fusedPair, GuardedTimeout } from './guarded-timeout';
import { type Attempt, asLayer, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext, Policy } from './policy';

/**
 * Policies run outer → inner, in the order given. The chain is an array walked by index, so a
 * call through N layers allocates no per-layer closure.
 */
export class ComposedPolicy<P extends readonly Policy[] = readonly Policy[]> implements Layer {
  /** The policies as given, outermost first. */
  readonly policies: P;
  /**
   * What actually runs, outermost first: `'CircuitBreaker+TimeoutPolicy'` where a breaker directly
   * outside a timeout was fused into one layer (same behaviour, one promise per attempt fewer).
   */
  readonly layout: readonly string[];
  private readonly chain: readonly Layer[];

  constructor(policies: P) {
    this.policies = policies;
    this.chain = composeLayers(policies);
    this.layout = this.chain.map(layerName);
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return callNext(fn, rootContext(signal, deadline), this.chain, 0);
  }

  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    if (chain === undefined || index >= chain.length) return callNext(fn, ctx, this.chain, 0);
    // Used as one layer of someone else's chain: finish ours, then continue theirs.
    return callNext((inner) => callNext(fn, inner, chain, index), ctx, this.chain, 0);
  }

  /** The layers a composition runs, for an enclosing composition to flatten. */
  get layers(): readonly Layer[] {
    return this.chain;
  }
}

/**
 * Composes policies, outermost first: `wrap(retry, breaker, timeout)`. Nested compositions are
 * flattened, and each circuit breaker directly outside a timeout is fused with it into one layer
 * (visible in `layout`). A policy from elsewhere works too, through its `execute`.
 */
export function wrap<const P extends readonly Policy[]>(...policies: P): ComposedPolicy<P> {
  return new ComposedPolicy(policies);
}

/** The chain to run: compositions flattened, then fusable pairs fused (see `fusedPair`). */
export function composeLayers(policies: readonly Policy[]): Layer[] {
  const flat = policies.flatMap((p) => (p instanceof ComposedPolicy ? p.layers : [asLayer(p)]));
  const out: Layer[] = [];
  for (let i = 0; i < flat.length; i++) {
    const layer = flat[i]!;
    const fused = fusedPair(layer, flat[i + 1]);
    if (fused === undefined) out.push(layer);
    else {
      out.push(fused);
      i++;
    }
  }
  return out;
}

function layerName(layer: Layer): string {
  if (layer instanceof GuardedTimeout) return 'CircuitBreaker+TimeoutPolicy';
  return layer.constructor === Object ? 'Policy' : layer.constructor.name;
}
