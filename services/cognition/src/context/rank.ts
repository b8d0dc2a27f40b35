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

export function rankByQuery(items: MemoryItem[], query: string | null | undefined, now = Date.now()) {
  return scoreItems(items, query, now).map((s) => s.item);
}
