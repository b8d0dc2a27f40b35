import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a call is for, as its events' listeners (logs) need it: the request that caused it and
 * the operation (tool or resource). Events are emitted synchronously inside the call, so a
 * listener reads the scope of the call that emitted them without any event carrying it.
 */
export interface CallScope {
  /** The request id of the inbound request this call serves. */
  requestId?: string | undefined;
  /** `tool` (call_tool) or `stream` (a resource). */
  kind?: 'tool' | 'stream' | undefined;
  /** The tool's name or the resource's path. */
  operation?: string | undefined;
}

const storage = new AsyncLocalStorage<CallScope>();

/** Runs `fn` with `scope` merged over the current one (an inner call keeps the request id). */
export function inCallScope<T>(scope: CallScope, fn: () => T): T {
  const outer = storage.getStore();
  const merged: CallScope = { ...outer };
  for (const [k, v] of Object.entries(scope)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  return storage.run(merged, fn);
}

/** The scope of the call (or request) being run, if any. */
export function currentCallScope(): CallScope | undefined {
  return storage.getStore();
}
