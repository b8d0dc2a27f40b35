import { createHash } from 'node:crypto';

/**
 * A UUID-shaped id derived from `parts` (version 5 style, SHA-256): the same parts always give the
 * same id, so a retried operation names the same thing and the store keeps one copy.
 */
export function stableId(...parts: string[]): string {
  const h = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
