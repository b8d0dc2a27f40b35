import { describe, expect, it } from 'vitest';
import type { MemoryItem } from './memory-reader';
import { rankByQuery, scoreItems } from './rank';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const DAY = 86_400_000;
const item = (id: string, content: string, ageDays: number): MemoryItem => ({
  id,
  user_id: 'u',
  conversation_id: null,
  content,
  timestamp: new Date(NOW - ageDays * DAY).toISOString(),
  metadata: {},
});

describe('scoreItems', () => {
  const items = [
    item('new-vague', 'we talked about the weather', 0),
    item('old-exact', 'the kubernetes deploy broke the staging cluster', 5),
    item('mid-partial', 'the deploy went fine', 1),
    item('prefix', 'deployment notes for kubernetes', 2),
  ];

  it('prefers matching more (and rarer) query words over recency, and leaves non-matches out', () => {
    const ranked = rankByQuery(items, 'kubernetes deploy', NOW).map((i) => i.id);
    expect(ranked).toEqual(['old-exact', 'prefix', 'mid-partial']);
  });

  it('ignores stopwords in the query unless it has nothing else', () => {
    expect(rankByQuery(items, 'the weather', NOW).map((i) => i.id)).toEqual(['new-vague']);
    expect(rankByQuery(items, 'the', NOW).map((i) => i.id)).not.toContain('prefix');
  });

  it('adds a bonus for the whole phrase', () => {
    const [a, b] = scoreItems(
      [item('split', 'staging has a cluster', 0), item('phrase', 'the staging cluster', 0)],
      'staging cluster',
      NOW,
    );
    expect(a?.item.id).toBe('phrase');
    expect((a?.score ?? 0) - (b?.score ?? 0)).toBeCloseTo(0.25);
  });

  it('without a query orders by recency alone', () => {
    expect(rankByQuery(items, null, NOW).map((i) => i.id)).toEqual([
      'new-vague',
      'mid-partial',
      'prefix',
      'old-exact',
    ]);
  });
});
