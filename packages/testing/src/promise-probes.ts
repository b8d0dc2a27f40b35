/** Probes for tests that drive promises by hand: their outcome, their rejection, their abort listeners. */

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Attaches handlers at once, so a rejection that happens while a test drives the fake clock is
 * not reported as unhandled, and records when it settled.
 */
export function capture<T>(promise: Promise<T>): { settled: boolean; outcome: Promise<Outcome<T>> } {
  const box = {
    settled: false,
    outcome: promise.then(
      (value): Outcome<T> => {
        box.settled = true;
        return { ok: true, value };
      },
      (error: unknown): Outcome<T> => {
        box.settled = true;
        return { ok: false, error };
      },
    ),
  };
  return box;
}

/** The error a promise rejected with (fails the test if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** An AbortController whose signal counts the abort listeners currently attached to it. */
export function countingController(): {
  controller: AbortController;
  listeners: () => number;
  added: () => number;
} {
  const controller = new AbortController();
  const signal = controller.signal;
  let current = 0;
  let added = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const seen = new Set<unknown>();
  signal.addEventListener = ((type: string, listener: unknown, options?: unknown) => {
    if (type === 'abort' && !seen.has(listener)) {
      seen.add(listener);
      current++;
      added++;
    }
    add(type, listener as Parameters<typeof add>[1], options as Parameters<typeof add>[2]);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: unknown, options?: unknown) => {
    if (type === 'abort' && seen.delete(listener)) current--;
    remove(type, listener as Parameters<typeof remove>[1], options as Parameters<typeof remove>[2]);
  }) as typeof signal.removeEventListener;
  return { controller, listeners: () => current, added: () => added };
}
