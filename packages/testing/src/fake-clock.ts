import type { Clock, TimerHandle } from '@cortex/resilience';

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A manually driven clock for deterministic tests: nothing happens until `advance` moves time,
 * and due timers then run in due-time order (ties in creation order), each seeing `now()` equal to
 * its own due time, as a real event loop would.
 */
export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** The same reading as `now()`: tests start the clock where a timestamp should be. */
  wallNow(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.timers.findIndex((t) => t.id === handle);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Timers not yet run, to assert that nothing was left behind. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward synchronously, running due timers (not the promise callbacks they cause). */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let t = this.takeDue(target); t !== undefined; t = this.takeDue(target)) {
      this.time = Math.max(this.time, t.at);
      t.fn();
    }
    this.time = target;
  }

  /**
   * Moves time forward and lets promise chains settle before and after each timer, so that a
   * timer scheduled by a continuation (a retry wait after a failed attempt) still fires in range.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.time + ms;
    await flush();
    for (let t = this.takeDue(target); t !== undefined; t = this.takeDue(target)) {
      this.time = Math.max(this.time, t.at);
      t.fn();
      await flush();
    }
    this.time = target;
    await flush();
  }

  private takeDue(target: number): FakeTimer | undefined {
    let best = -1;
    for (let i = 0; i < this.timers.length; i++) {
      const t = this.timers[i]!;
      if (t.at > target) continue;
      const b = this.timers[best];
      if (b === undefined || t.at < b.at || (t.at === b.at && t.id < b.id)) best = i;
    }
    return best < 0 ? undefined : this.timers.splice(best, 1)[0];
  }
}

/** One macrotask turn: every queued microtask (and the ones they queue) has run by then. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
