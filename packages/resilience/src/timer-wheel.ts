import { type Clock, type TimerHandle, unrefTimer } from './clock';

/**
 * Something with a deadline on a wheel. Subclasses are the per-call objects of the policies
 * (a timed attempt, a queued bulkhead call), so registering allocates nothing extra: the entry
 * is its own list node.
 */
export abstract class WheelEntry {
  wheelDeadline = 0;
  /** Slot index while registered, -1 otherwise. */
  wheelSlot = -1;
  wheelPrev: WheelEntry | null = null;
  wheelNext: WheelEntry | null = null;

  /** Called once, from the wheel's timer, when the deadline has passed. Must not throw. */
  abstract expire(): void;
}

/**
 * A hashed timing wheel: one coarse timer for any number of deadlines. A timer per call is what
 * made other libraries' timeouts cost microseconds; here add/remove are O(1) pointer updates, the
 * timer runs only while something is registered, and it is unref'd so it never keeps a process
 * alive. Deadlines fire up to `resolutionMs` late, never early.
 */
export class TimerWheel {
  private readonly slots: (WheelEntry | null)[];
  private readonly mask: number;
  private lastTick = 0;
  private timer: TimerHandle | undefined;
  private count = 0;
  private readonly onTick = () => this.tick();

  constructor(
    private readonly clock: Clock,
    readonly resolutionMs = 5,
    slotCount = 1024,
  ) {
    if (!(resolutionMs > 0)) throw new RangeError('resolutionMs must be > 0');
    // A power of two, so the slot of a tick is a mask, not a division.
    let n = 1;
    while (n < slotCount) n *= 2;
    this.slots = new Array<WheelEntry | null>(n).fill(null);
    this.mask = n - 1;
  }

  /** Registered entries that have neither expired nor been removed. */
  get size(): number {
    return this.count;
  }

  /** Whether the shared timer is currently scheduled. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  add(entry: WheelEntry, deadline: number): void {
    if (entry.wheelSlot >= 0) this.remove(entry);
    if (this.timer === undefined) {
      this.lastTick = Math.floor(this.clock.now() / this.resolutionMs);
      this.schedule();
    }
    // The first tick at which `now >= deadline` is certain; never one already processed.
    let tick = Math.ceil(deadline / this.resolutionMs);
    if (tick <= this.lastTick) tick = this.lastTick + 1;
    const slot = tick & this.mask;
    const head = this.slots[slot] ?? null;
    entry.wheelDeadline = deadline;
    entry.wheelSlot = slot;
    entry.wheelPrev = null;
    entry.wheelNext = head;
    if (head !== null) head.wheelPrev = entry;
    this.slots[slot] = entry;
    this.count++;
  }

  /** Unregisters; false when the entry had already expired or was never added. */
  remove(entry: WheelEntry): boolean {
    if (entry.wheelSlot < 0) return false;
    const { wheelPrev: prev, wheelNext: next } = entry;
    if (prev === null) this.slots[entry.wheelSlot] = next;
    else prev.wheelNext = next;
    if (next !== null) next.wheelPrev = prev;
    entry.wheelSlot = -1;
    entry.wheelPrev = null;
    entry.wheelNext = null;
    this.count--;
    return true;
  }

  private schedule(): void {
    const next = (this.lastTick + 1) * this.resolutionMs;
    this.timer = this.clock.setTimeout(this.onTick, Math.max(1, next - this.clock.now()));
    unrefTimer(this.timer);
  }

  private tick(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const target = Math.floor(now / this.resolutionMs);
    let from = this.lastTick + 1;
    if (target - from >= this.slots.length) from = target - this.slots.length + 1;
    // Entries added by an expire() callback must land after this sweep, not in a swept slot.
    if (target > this.lastTick) this.lastTick = target;
    for (let t = from; t <= target; t++) this.sweep(t & this.mask, now);
    // Nothing left: stop ticking until the next add. Calls that come and go between two ticks
    // therefore share one timer instead of starting and stopping one each.
    if (this.count > 0) this.schedule();
  }

  private sweep(slot: number, now: number): void {
    let entry = this.slots[slot] ?? null;
    while (entry !== null) {
      const next = entry.wheelNext;
      // Entries for a later lap of the wheel share the slot; they stay.
      if (entry.wheelDeadline <= now) {
        this.remove(entry);
        entry.expire();
        // expire() aborts signals, whose listeners may remove other entries: if they took the
        // one we were about to visit, rescan the slot (expired entries are gone, so this ends).
        if (next !== null && next.wheelSlot !== slot) {
          entry = this.slots[slot] ?? null;
          continue;
        }
      }
      entry = next;
    }
  }
}

const shared = new WeakMap<Clock, TimerWheel>();

/** One wheel per clock, shared by every policy on that clock unless one is passed explicitly. */
export function sharedWheel(clock: Clock): TimerWheel {
  let wheel = shared.get(clock);
  if (wheel === undefined) {
    wheel = new TimerWheel(clock);
    shared.set(clock, wheel);
  }
  return wheel;
}
