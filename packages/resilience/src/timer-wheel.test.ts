import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { TimerWheel, WheelEntry } from './timer-wheel';

class Probe extends WheelEntry {
  firedAt: number | undefined;
  constructor(
    private readonly clock: FakeClock,
    private readonly onExpire?: () => void,
  ) {
    super();
  }
  expire(): void {
    this.firedAt = this.clock.now();
    this.onExpire?.();
  }
}

describe('TimerWheel', () => {
  it('fires never early and at most one resolution late', () => {
    const clock = new FakeClock(3);
    const wheel = new TimerWheel(clock, 5, 16);
    const deadlines = [4, 7, 10, 11, 50, 79, 80, 81, 333];
    const probes = deadlines.map((d) => {
      const p = new Probe(clock);
      wheel.add(p, d);
      return p;
    });
    clock.advance(400);
    probes.forEach((p, i) => {
      const d = deadlines[i]!;
      expect(p.firedAt).toBeGreaterThanOrEqual(d);
      expect(p.firedAt).toBeLessThanOrEqual(d + 5);
    });
    expect(wheel.size).toBe(0);
  });

  it('keeps deadlines more than one lap away until their lap', () => {
    const clock = new FakeClock();
    const wheel = new TimerWheel(clock, 5, 4); // one lap = 20 ms
    const far = new Probe(clock);
    wheel.add(far, 93);
    clock.advance(90);
    expect(far.firedAt).toBeUndefined();
    clock.advance(10);
    expect(far.firedAt).toBeGreaterThanOrEqual(93);
  });

  it('runs one timer for many entries and stops it when nothing is registered', () => {
    const clock = new FakeClock();
    const wheel = new TimerWheel(clock, 5);
    const probes = Array.from({ length: 1000 }, () => new Probe(clock));
    for (const p of probes) wheel.add(p, 1000);
    expect(clock.pendingTimers).toBe(1);
    for (const p of probes) expect(wheel.remove(p)).toBe(true);
    expect(wheel.remove(probes[0]!)).toBe(false);
    expect(wheel.size).toBe(0);
    clock.advance(5);
    expect(wheel.running).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    expect(probes.every((p) => p.firedAt === undefined)).toBe(true);
  });

  it('survives an expiry that removes its neighbour and one that adds a new entry', () => {
    const clock = new FakeClock();
    const wheel = new TimerWheel(clock, 5, 8);
    const c = new Probe(clock);
    const b = new Probe(clock);
    const a = new Probe(clock, () => wheel.remove(b));
    const late = new Probe(clock);
    const d = new Probe(clock, () => wheel.add(late, clock.now()));
    wheel.add(c, 10);
    wheel.add(b, 10);
    wheel.add(a, 10);
    wheel.add(d, 10);
    clock.advance(10);
    expect(a.firedAt).toBe(10);
    expect(b.firedAt).toBeUndefined();
    expect(c.firedAt).toBe(10);
    expect(late.firedAt).toBeUndefined();
    clock.advance(5);
    expect(late.firedAt).toBe(15);
  });

  it('catches up after a long stall', () => {
    const clock = new FakeClock();
    const wheel = new TimerWheel(clock, 5, 8);
    const p = new Probe(clock);
    wheel.add(p, 12);
    // Move time without running the tick in between, as a blocked event loop would.
    (clock as unknown as { time: number }).time = 500;
    clock.advance(1);
    expect(p.firedAt).toBe(500);
  });
});
