/** What a policy hands to the function it protects. */
export interface AttemptContext {
  /** Aborted when the caller gives up or the attempt times out; pass it to I/O. */
  readonly signal: AbortSignal | undefined;
  /** 1 for the first attempt, counted by the nearest retry layer. */
  readonly attempt: number;
  /** Absolute time (on the policy's clock) after which the result is useless; undefined = none. */
  readonly deadline: number | undefined;
}

/**
 * The one public way to run something under a policy: `fn` is called once per attempt with the
 * attempt's context; `signal` is the caller's (aborting it stops waits, queues and the attempt),
 * `deadline` an optional absolute time capping everything.
 */
export interface Policy {
  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T>;
}

/** Runs `fn` as it is, with the caller's signal and deadline: for a caller that needs no policy. */
export const noPolicy: Policy = {
  execute: (fn, signal, deadline) => fn({ signal, attempt: 1, deadline }),
};
