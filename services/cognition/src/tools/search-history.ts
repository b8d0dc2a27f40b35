import { z } from 'zod';
import { searchMemory } from '../context/memory-search';
import { rankMatches } from '../context/rank';
import { defineTool, idArg } from './tool';

/** Matches asked of memory per result wanted: cognition re-ranks a few more than it answers. */
const FETCH_FACTOR = 2;
const MIN_FETCH = 20;

export const searchHistory = defineTool({
  name: 'search_history',
  description:
    "Search a user's whole history (full-text, in memory's database); results match the query, best first, each with its score.",
  args: z.object({
    user_id: idArg(),
    query: z.string().trim().min(1).max(1000),
    limit: z.coerce.number().int().min(1).max(100).default(10),
  }),
  result: z.looseObject({
    results: z.array(z.looseObject({})),
    count: z.number(),
    query: z.string(),
    error: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  async run({ user_id, query, limit }, ctx, call) {
    const { matches, terms, error } = await searchMemory(
      ctx.memory,
      {
        userId: user_id,
        query,
        limit: Math.min(100, Math.max(limit * FETCH_FACTOR, MIN_FETCH)),
        maxChars: ctx.env.SEARCH_MAX_CHARS,
      },
      call,
    );
    // A query without words ("?") was matched as text by memory: its newest matches, in that order.
    const ranked =
      terms.length > 0 ? rankMatches(matches, terms) : matches.map((item) => ({ item, score: 0 }));
    const results = ranked
      .slice(0, limit)
      .map(({ item, score }) => ({ ...item, score: Math.round(score * 1000) / 1000 }));
    return { results, count: results.length, query, ...(error ? { error } : {}) };
  },
});
