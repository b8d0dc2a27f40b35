import { describe, expect, it } from 'vitest';
import { timeOrderedId } from './time-ordered-id';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a version 7 UUID whose first 48 bits are the milliseconds given', () => {
    const at = Date.UTC(2026, 11, 2, 13, 0, 0, 123);
    const id = timeOrderedId(at);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sorts by time: an id made a millisecond later sorts after, whatever its random bits', () => {
    const at = Date.now();
    for (let i = 0; i < 1000; i++) {
      const earlier = timeOrderedId(at + i);
      const later = timeOrderedId(at + i + 1);
      expect(earlier < later).toBe(true);
    }
  });

  it('does not repeat within a millisecond (random tail), across refills of its random pool', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 5000 }, () => timeOrderedId(at)));
    expect(ids.size).toBe(5000);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });
});
