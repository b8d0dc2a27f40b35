import { describe, expect, it } from 'vitest';
import type { MemoryItem } from './memory-reader';
import { MAX_RANK_CHARS, MAX_RANK_TERMS, rankMatches, scoreItems } from './rank';

// The order scoreItems gives (what rankMatches ranks memory's matches by).
const rankByQuery = (items: Parameters<typeof scoreItems>[0], query: string | null, now: number) =>
  scoreItems(items, query, now).map((s) => s.item);

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

describe('rankMatches', () => {
  const match = (id: string, content: string, rank: number, ageDays = 0) => ({
    ...item(id, content, ageDays),
    rank,
  });

  it('ranks by cognition’s score on the head, keeps matches whose words lie beyond it, last, by memory’s rank', () => {
    const ranked = rankMatches(
      [
        match('beyond-low', 'nothing visible here', 0.1),
        match('both', 'kubernetes deploy', 0.2),
        match('beyond-high', 'nothing visible either', 0.5),
        match('one', 'a deploy', 0.9),
      ],
      ['kubernetes', 'deploy'],
      NOW,
    );
    expect(ranked.map((r) => r.item.id)).toEqual(['both', 'one', 'beyond-high', 'beyond-low']);
    expect(ranked.slice(2).map((r) => r.score)).toEqual([0, 0]);
  });

  it('reads at most MAX_RANK_CHARS of each match and MAX_RANK_TERMS of the words', () => {
    const far = `${'x '.repeat(MAX_RANK_CHARS)}needle`;
    const [only] = rankMatches([match('far', far, 0.3)], ['needle'], NOW);
    expect(only?.score).toBe(0);
    expect(only?.item.content).toBe(far); // the item itself is answered whole
    const words = Array.from({ length: MAX_RANK_TERMS + 1 }, (_, i) => `w${i}x`);
    const [last] = rankMatches([match('last', words.at(-1) as string, 0.3)], words, NOW);
    expect(last?.score).toBe(0);
    const [first] = rankMatches([match('first', words[0] as string, 0.3)], words, NOW);
    expect(first?.score).toBeGreaterThan(0);
  });
});
