import type { InputLedger, User } from './ledger';

export interface LoadOptions {
  /** Where each request goes; asked per request, so a test can move load between replicas. */
  target: () => string;
  users: User[];
  concurrency: number;
  /** Stop after this many requests in total… */
  count?: number;
  /** …or when this says so (checked before each request). */
  until?: () => boolean;
  /** Pause between one worker's requests. */
  pauseMs?: number;
}

/**
 * Concurrent POST /input from several users, each answer recorded in the ledger. Resolves when
 * every worker has finished; `stop()` ends it early.
 */
export function runLoad(ledger: InputLedger, options: LoadOptions) {
  let sent = 0;
  let stopped = false;
  const worker = async (w: number) => {
    let turn = 0;
    while (!stopped && !(options.until?.() ?? false)) {
      if (options.count !== undefined && sent >= options.count) return;
      sent++;
      const user = options.users[(w + turn++) % options.users.length] as User;
      await ledger.post(options.target(), user);
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w))).then(() => sent);
  return {
    done,
    get sent() {
      return sent;
    },
    stop() {
      stopped = true;
      return done;
    },
  };
}
