import { storableString } from '@cortex/service-kit';
import { z } from 'zod';
import { DEFAULT_SEARCH_BOUNDS, searchInputs as search, searchTerms } from '../store/search-store';
import { userId } from './input-schemas';
import { defineTool } from './tool';

/**
 * A read: full-text search over one user's whole history, in the database (GIN index). Each match
 * carries its rank and at most `max_chars` of its content; `terms` are the query words used.
 */
export const searchInputs = defineTool({
  name: 'search_inputs',
  description:
    "Read: full-text search of one user's stored inputs (whole history), best ranked first, each with its rank and at most max_chars of content.",
  args: z.object({
    user_id: userId,
    query: storableString().trim().min(1).max(10_000),
    limit: z.coerce.number().int().min(1).max(100).default(10),
    max_chars: z.coerce.number().int().min(100).max(2000).default(1000),
  }),
  result: z.looseObject({
    results: z.array(z.looseObject({})),
    count: z.number(),
    terms: z.array(z.string()),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  async run({ user_id, query, limit, max_chars }, ctx) {
    const results = await search(
      ctx.db,
      user_id,
      query,
      { limit, maxChars: max_chars },
      ctx.search ?? DEFAULT_SEARCH_BOUNDS,
    );
    return { results, count: results.length, terms: searchTerms(query) };
  },
});

export const searchTools = [searchInputs];
