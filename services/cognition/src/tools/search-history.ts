import { z } from 'zod';
import { readItems } from '../context/memory-reader';
import { scoreItems, terms } from '../context/rank';
import { defineTool, idArg } from './tool';

export const searchHistory = defineTool({
  name: 'search_history',
  description: "Search a user's stored inputs; results match the query, best first, each with its score.",
  args: z.object({
    user_id: idArg(),
    query: z.string().trim().min(1).max(1000),
    limit: z.coerce.number().int().min(1).max(100).default(10),
  }),
  async run({ user_id, query, limit }, ctx, call) {
    const { items, error } = await readItems(ctx.memory, `history/${encodeURIComponent(user_id)}`, {
      limit: ctx.env.SEARCH_WINDOW,
      requestId: call.requestId,
      deadline: call.deadline,
    });
    // A query with no word of two letters or more ("x", "?") would score every item alike: such a
    // query matches as plain text instead, so what comes back still contains what was asked for.
    const byWords = terms(query).length > 0;
    const candidates = byWords
      ? items
      : items.filter((i) => i.content.toLowerCase().includes(query.toLowerCase()));
    const results = scoreItems(candidates, byWords ? query : null)
      .slice(0, limit)
      .map(({ item, score }) => ({ ...item, score: Math.round(score * 1000) / 1000 }));
    return { results, count: results.length, query, ...(error ? { error } : {}) };
  },
});
