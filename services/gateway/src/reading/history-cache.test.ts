import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { StoredInput } from '../ingest/input-data';
import { HistoryCache } from './history-cache';

const item = (id: string, content = 'x'): StoredInput => ({
  id,
  conversation_id: null,
  content,
  timestamp: '2026-12-01T00:00:00.000Z',
  metadata: {},
});
const size = (items: StoredInput[]) => Buffer.byteLength(JSON.stringify(items));

describe('HistoryCache', () => {
  it('keeps each user apart and evicts the least recently used past maxEntries', () => {
    const cache = new HistoryCache({ maxEntries: 2, maxBytes: 1e6, maxAgeMs: 1e6, clock: new FakeClock() });
    cache.set('alice', [item('a')], 0);
    cache.set('bob', [item('b')], 0);
    expect(cache.get('alice')?.value[0]?.id).toBe('a'); // alice is now the most recent
    cache.set('carol', [item('c')], 0);
    expect(cache.get('bob')).toBeUndefined();
    expect(cache.get('alice')?.value[0]?.id).toBe('a');
    expect(cache.get('carol')?.value[0]?.id).toBe('c');
    expect(cache.size).toBe(2);
  });

  it('stays within maxBytes, refusing a history larger than the whole budget', () => {
    const one = [item('a', 'y'.repeat(100))];
    const cache = new HistoryCache({ maxEntries: 100, maxBytes: size(one) * 2, maxAgeMs: 1e6 });
    cache.set('alice', one, 0);
    cache.set('bob', [item('b', 'y'.repeat(100))], 0);
    expect(cache.bytes).toBe(size(one) * 2);
    cache.set('carol', [item('c', 'y'.repeat(100))], 0);
    expect(cache.get('alice')).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(size(one) * 2);
    cache.set('dave', [item('d', 'y'.repeat(1000))], 0);
    expect(cache.get('dave')).toBeUndefined();
    // Replacing a user's copy frees the old one's bytes.
    cache.set('bob', [item('b2')], 0);
    expect(cache.bytes).toBe(size(one) + size([item('b2')]));
  });

  it('never serves a copy older than maxAgeMs', () => {
    const clock = new FakeClock();
    const cache = new HistoryCache({ maxEntries: 10, maxBytes: 1e6, maxAgeMs: 1_000, clock });
    cache.set('alice', [item('a')], clock.now());
    clock.advance(1_000);
    expect(cache.get('alice')).toBeDefined();
    clock.advance(1);
    expect(cache.get('alice')).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});
