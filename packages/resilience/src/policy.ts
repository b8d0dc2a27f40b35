/** What a policy hands to the function it protects (and to the next layer in). */
export interface AttemptContext {
  /** Aborted when the caller gives up or the attempt times out; pass it to I/O. */
  readonly signal: AbortSignal | undefined;
  /** 1 for the first attempt, counted by the nearest retry layer. */
  readonly attempt: number;
  /** Absolute time (on the policy's clock) after which the result is useless; undefined = none. */
  readonly deadline: number | undefined;
}

export type Attempt<T> = (ctx: AttemptContext) => Promise<T>;

/**
 * The one shape every policy shares. `run` is the layered entry point used by `wrap`: it receives
 * the outer layer's context plus the rest of the chain, so composing policies costs no closure per
 * call and the attempt number, signal and deadline reach the innermost function unchanged.
 */
export interface Policy {
  execute<T>(fn: Attempt<T>, signal?: AbortSignal, deadline?: number): Promise<T>;
  run<T>(fn: Attempt<T>, ctx: AttemptContext, chain?: readonly Policy[], index?: number): Promise<T>;
}

/** Shared, immutable context for the common case of no signal and no deadline: no allocation. */
const EMPTY: AttemptContext = Object.freeze({ signal: undefined, attempt: 1, deadline: undefined });

export function rootContext(signal: AbortSignal | undefined, deadline: number | undefined): AttemptContext {
  return signal === undefined && deadline === undefined ? EMPTY : { signal, attempt: 1, deadline };
}

/** Calls the next layer of `chain`, or `fn` itself at the end of it. */
export function callNext<T>(
  fn: Attempt<T>,
  ctx: AttemptContext,
  chain: readonly Policy[] | undefined,
  index: number | undefined,
): Promise<T> {
  const i = index ?? 0;
  if (chain === undefined || i >= chain.length) return fn(ctx);
  return chain[i]!.run(fn, ctx, chain, i + 1);
}
