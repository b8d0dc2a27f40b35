import type { Clock } from './clock';
import { abortError } from './policy-errors';

/**
 * Waits `ms` on the clock, or rejects as soon as `signal` aborts; either way the timer and the
 * listener are gone afterwards (an uninterruptible wait on Retry-After is a classic bug).
 */
function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(abortError(signal!));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until `clock.now() >= at`: timers may fire a little early, and some waits must not. */
export async function sleepUntil(clock: Clock, at: number, signal?: AbortSignal): Promise<void> {
  for (let left = at - clock.now(); left > 0; left = at - clock.now()) {
    await sleep(clock, left, signal);
  }
  if (signal?.aborted) throw abortError(signal);
}
