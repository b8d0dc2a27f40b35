import { STOPWORDS } from '../models/lexicon';
import type { MemoryItem } from './memory-reader';

export function terms(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 1);
}

export interface Scored {
  item: MemoryItem;
  score: number;
}

const DAY_MS = 86_400_000;
const RECENCY_WEIGHT = 0.25;
const PHRASE_BONUS = 0.25;
/** A query word that only starts a stored word ("deploy" in "deployment") counts this much. */
const PREFIX_MATCH = 0.7;

/**
 * Scores items against a query: the share of the query's words an item contains, each word
 * weighted by how rare it is among the candidates (idf, so "the deploy" is about "deploy"), plus a
 * bonus for the whole query as a phrase, plus recency (half-life of a day) at a quarter weight, so
 * that an exact older match still beats a vague new one. Items matching no word are left out.
 * Without a query: every item, most recent first.
 */
export function scoreItems(
  items: MemoryItem[],
  query: string | null | undefined,
  now = Date.now(),
): Scored[] {
  const recency = (item: MemoryItem) => {
    const at = Date.parse(item.timestamp);
    return Number.isNaN(at) ? 0 : 0.5 ** (Math.max(0, now - at) / DAY_MS);
  };
  const all = [...new Set(terms(query ?? ''))];
  const meaningful = all.filter((t) => !STOPWORDS.has(t));
  const wanted = meaningful.length > 0 ? meaningful : all;
  if (wanted.length === 0) {
    return items.map((item) => ({ item, score: recency(item) })).sort((a, b) => b.score - a.score);
  }
  const itemTerms = items.map((item) => new Set(terms(item.content)));
  const weight = (have: Set<string>, t: string): number => {
    if (have.has(t)) return 1;
    if (t.length >= 3) for (const h of have) if (h.startsWith(t)) return PREFIX_MATCH;
    return 0;
  };
  const matches = itemTerms.map((have) => wanted.map((t) => weight(have, t)));
  const idf = wanted.map((_, j) => {
    const df = matches.filter((m) => (m[j] ?? 0) > 0).length;
    return Math.log(1 + items.length / (1 + df));
  });
  const total = idf.reduce((a, b) => a + b, 0) || 1;
  const phrase = all.length > 1 ? all.join(' ') : undefined;
  const scored: Scored[] = [];
  items.forEach((item, i) => {
    const m = matches[i] ?? [];
    const match = m.reduce((acc, w, j) => acc + w * (idf[j] ?? 0), 0) / total;
    if (match <= 0) return;
    const bonus = phrase && terms(item.content).join(' ').includes(phrase) ? PHRASE_BONUS : 0;
    scored.push({ item, score: match + bonus + RECENCY_WEIGHT * recency(item) });
  });
  return scored.sort((a, b) => b.score - a.score);
}

/** Most characters of one item cognition's ranking reads: with at most 100 items its work is bounded. */
export const MAX_RANK_CHARS = 2000;
/** Most query words cognition's ranking weighs (memory's search uses as many). */
export const MAX_RANK_TERMS = 32;

/**
 * Ranks memory's full-text matches: cognition's score (above) over each match's first
 * MAX_RANK_CHARS characters, for at most MAX_RANK_TERMS of the query's words, memory's own rank
 * breaking ties. Every match stays: one whose words lie beyond the part memory sent still matched,
 * and comes after those that show them (score 0), in memory's order.
 */
export function rankMatches<T extends MemoryItem & { rank: number }>(
  matches: readonly T[],
  queryTerms: readonly string[],
  now = Date.now(),
): { item: T; score: number }[] {
  const heads = matches.map((m) => ({ ...m, content: m.content.slice(0, MAX_RANK_CHARS) }));
  const scores = new Map<MemoryItem, number>(
    scoreItems(heads, queryTerms.slice(0, MAX_RANK_TERMS).join(' '), now).map((s) => [s.item, s.score]),
  );
  return matches
    .map((item, i) => ({ item, score: scores.get(heads[i] as MemoryItem) ?? 0 }))
    .sort((a, b) => b.score - a.score || b.item.rank - a.item.rank);
}
