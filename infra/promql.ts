/**
 * Test support: the metric and label names a PromQL expression uses. Not a PromQL parser; enough
 * for the alert rules here (selectors, matchers, ranges, aggregations, binary operators).
 */

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
const LABEL_LIST = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
const STRING = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;
const NAME = /(?<![\w:.])[A-Za-z_:][\w:]*/g;

export interface PromqlNames {
  metrics: string[];
  /** Label names in matchers, per metric (`m{a="x"}` gives m → [a]). */
  matchers: Record<string, string[]>;
  /** Label names in by/without/on/ignoring/group_* lists. */
  grouping: string[];
}

export function promqlNames(expr: string): PromqlNames {
  // Strings first: a regex such as "5.." must not read as anything else.
  const text = expr.replace(STRING, '""');
  const matchers: Record<string, string[]> = {};
  for (const m of text.matchAll(/([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}/g)) {
    const labels = [...(m[2] ?? '').matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? '');
    const metric = m[1] ?? '';
    matchers[metric] = [...new Set([...(matchers[metric] ?? []), ...labels])];
  }
  const grouping = [...text.matchAll(LABEL_LIST)].flatMap((m) =>
    (m[2] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const bare = text
    .replace(LABEL_LIST, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const metrics = new Set<string>();
  for (const m of bare.matchAll(NAME)) {
    const after = bare.slice((m.index ?? 0) + m[0].length);
    // A name followed by "(" is a function or an aggregation.
    if (/^\s*\(/.test(after) || KEYWORDS.has(m[0].toLowerCase())) continue;
    metrics.add(m[0]);
  }
  return { metrics: [...metrics].sort(), matchers, grouping: [...new Set(grouping)] };
}
