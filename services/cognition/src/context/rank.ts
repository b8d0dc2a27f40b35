import type { MemoryItem } from './memory-reader';

export function terms(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 1);
}

/**
 * Scores items by how many query terms they contain, weighted towards recent ones (half-life of a
 * day), so that an exact older match still beats a vague new one. No query: most recent first.
 */
export function rankByQuery(
  items: MemoryItem[],
  query: string | null | undefined,
  now = Date.now(),
): MemoryItem[] {
  const wanted = query ? [...new Set(terms(query))] : [];
  const scored = items.map((item) => {
    const ageDays = Math.max(0, now - Date.parse(item.timestamp)) / 86_400_000;
    const recency = 0.5 ** ageDays;
    if (wanted.length === 0) return { item, score: recency };
    const have = new Set(terms(item.content));
    const hits = wanted.filter((t) => have.has(t) || item.content.toLowerCase().includes(t)).length;
    return { item, score: hits === 0 ? -1 : hits / wanted.length + 0.25 * recency };
  });
  return scored
    .filter((s) => s.score >= 0)
    .sort((a, b) => b.score - a.score)
    .map((s) => s.item);
}
