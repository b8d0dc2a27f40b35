import { describe, expect, it } from 'vitest';
import { systemClock } from './clock';

describe('systemClock', () => {
  it('reads monotonic time near the epoch scale for now(), and the wall clock for wallNow()', () => {
    const readings = Array.from({ length: 1_000 }, () => systemClock.now());
    for (let i = 1; i < readings.length; i++) expect(readings[i]!).toBeGreaterThanOrEqual(readings[i - 1]!);
    // Anchored where the process started: a deadline computed either way is off by milliseconds,
    // not by the process's age.
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(1_000);
    const before = Date.now();
    const wall = systemClock.wallNow();
    expect(wall).toBeGreaterThanOrEqual(before);
    expect(wall).toBeLessThanOrEqual(Date.now());
  });
});
