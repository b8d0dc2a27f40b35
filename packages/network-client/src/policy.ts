/**
 * The shape every resilience policy shares (see @cortex/resilience). The client only needs this,
 * so a service can pass any composition, or none.
 */
export interface AttemptContext {
  signal?: AbortSignal | undefined;
  /** Absolute deadline for this attempt, if the policy (or the caller) set one. */
  deadline?: number | undefined;
}

export interface CallPolicy {
  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T>;
}

export const noPolicy: CallPolicy = {
  execute: (fn, signal, deadline) => fn({ signal, deadline }),
};
