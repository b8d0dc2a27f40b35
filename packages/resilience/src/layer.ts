import type { AttemptContext, Policy } from './policy';

/**
 * The internal protocol between composed policies (not exported from the package): each layer
 * receives the outer layer's context plus the rest of the chain and its position in it, so
 * composing costs no closure per call and the attempt number, signal and deadline reach the
 * innermost function unchanged. A symbol key keeps it off the public surface of the classes.
 */
export const runLayer: unique symbol = Symbol('runLayer');

export type Attempt<T> = (ctx: AttemptContext) => Promise<T>;

/** The rest of a chain: `layers[index]` runs next, then the function at the end. */
export type Chain = readonly Layer[] | undefined;

export interface Layer extends Policy {
  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T>;
}

/** Shared, immutable context for the common case of no signal and no deadline: no allocation. */
const EMPTY: AttemptContext = Object.freeze({ signal: undefined, attempt: 1, deadline: undefined });

export function rootContext(signal: AbortSignal | undefined, deadline: number | undefined): AttemptContext {
  return signal === undefined && deadline === undefined ? EMPTY : { signal, attempt: 1, deadline };
}

/** Calls the next layer of `chain`, or `fn` itself at the end of it. */
export function callNext<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
  if (chain === undefined || index >= chain.length) return fn(ctx);
  return chain[index]![runLayer](fn, ctx, chain, index + 1);
}

function isLayer(policy: Policy): policy is Layer {
  return typeof (policy as Partial<Layer>)[runLayer] === 'function';
}

/**
 * A policy from elsewhere (only `execute`) as a layer: the rest of the chain runs inside its
 * `execute`, at the cost of a closure per call.
 */
export function asLayer(policy: Policy): Layer {
  if (isLayer(policy)) return policy;
  return {
    execute: (fn, signal, deadline) => policy.execute(fn, signal, deadline),
    [runLayer]: (fn, ctx, chain, index) =>
      policy.execute((inner) => callNext(fn, inner, chain, index), ctx.signal, ctx.deadline),
  };
}
