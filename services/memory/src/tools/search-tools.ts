import { storableString } from '@cortex/service-kit';
import { z } from 'zod';
import { isStatementCancelled } from '../db/db-errors';
import { DEFAULT_SEARCH_BOUNDS, searchInputs as search, searchTerms } from '../store/search-store';
import { userId } from './input-schemas';
import { defineTool } from './tool';

/**
 * A read: full-text search over one user's whole history, in the database (GIN index). Each match
 * carries its rank and at most `max_chars` of its content; `terms` are the query words used.
 * A search that exceeds its statement timeout answers `timed_out: true` with no results.
 */
const searchInputs = defineTool({
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
    timed_out: z.boolean(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  async run({ user_id, query, limit, max_chars }, ctx, call) {
    const terms = searchTerms(query);
    try {
      const results = await search(
        ctx.db,
        user_id,
        query,
        { limit, maxChars: max_chars },
        ctx.search ?? DEFAULT_SEARCH_BOUNDS,
      );
      return { results, count: results.length, terms, timed_out: false };
    } catch (err) {
      // The search ran past its own statement timeout: an answer about this search (too costly
      // for its bound), not an outage. As a 503 the caller would retry the same expensive search
      // and count it against memory's circuit, so one user's heavy queries would degrade everyone.
      // A connection failure or any other error still throws (503 and the rest).
      if (isStatementCancelled(err)) {
        const bounds = ctx.search ?? DEFAULT_SEARCH_BOUNDS;
        call.log.warn({ terms: terms.length, timeout_ms: bounds.timeoutMs }, 'search timed out');
        return { results: [], count: 0, terms, timed_out: true };
      }
      throw err;
    }
  },
});

export const searchTools = [searchInputs];
