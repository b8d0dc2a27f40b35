import { type Clock, systemClock, type TimerHandle, unrefTimer } from '@cortex/resilience';

export interface ParentWatchOptions {
  /** Called once, when the parent is gone. */
  onGone(parent: number): void;
  /** How often to look. Default 1000 ms. */
  intervalMs?: number;
  clock?: Clock;
  /** The current parent pid (tests pass their own). Default `process.ppid`. */
  ppid?: () => number;
}

/**
 * Calls `onGone` when the process that launched us dies. Linux tells a child nothing when its
 * parent dies (short of prctl(PR_SET_PDEATHSIG), which Node does not expose): the child is
 * re-parented (to pid 1 or a subreaper) and keeps running, holding its port and its directory
 * lock. A changed `process.ppid` is that re-parenting. Returns the function that stops watching.
 */
export function watchParent(options: ParentWatchOptions): () => void {
  const clock = options.clock ?? systemClock;
  const ppid = options.ppid ?? (() => process.ppid);
  const intervalMs = options.intervalMs ?? 1000;
  const parent = ppid();
  let timer: TimerHandle | undefined;
  let stopped = false;
  const check = () => {
    timer = undefined;
    if (stopped) return;
    if (ppid() !== parent) {
      stopped = true;
      options.onGone(parent);
      return;
    }
    arm();
  };
  const arm = () => {
    timer = clock.setTimeout(check, intervalMs);
    // Watching is no reason to stay alive.
    unrefTimer(timer);
  };
  // Already orphaned (pid 1 is nobody's launcher): nothing to watch.
  if (parent > 1) arm();
  return () => {
    stopped = true;
    if (timer !== undefined) clock.clearTimeout(timer);
  };
}
