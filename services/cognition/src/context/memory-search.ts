import type { ServiceClient } from '@cortex/network-client';
import { z } from 'zod';
import { budgetFor, type MemoryProblem, memoryItem, memoryProblem } from './memory-reader';

/** One of memory's `search_inputs` matches: a stored input (its content cut), with its rank. */
const searchMatch = memoryItem.extend({
  rank: z.number(),
  truncated: z.boolean(),
  content_bytes: z.number().int().nonnegative(),
});
export type SearchMatch = z.infer<typeof searchMatch>;

const searchAnswer = z.object({
  results: z.array(searchMatch).max(100),
  terms: z.array(z.string()).max(64),
  // Absent from a memory that predates it: then a search never says it timed out.
  timed_out: z.boolean().optional(),
});

/**
 * Why a search answered nothing, as the tools' `error`: memory away, or the search ran past its
 * own time bound in memory's database (a 200 there: an answer about this search, never retried
 * and never counted against memory's circuit).
 */
export type SearchProblem = MemoryProblem | 'search_timed_out';

/** The name of memory's search tool: a read, which cognition's memory permissions must allow. */
const MEMORY_SEARCH_TOOL = 'search_inputs';

/**
 * Searches the user's whole history in memory (full-text, in the database). Memory away is a named
 * problem, never a throw, as for every read; so is a search memory cut at its time bound
 * (`search_timed_out`, no matches). `maxChars` bounds the content of each match: with at
 * most 100 matches, what cognition then ranks in JavaScript is bounded in bytes.
 */
export async function searchMemory(
  memory: ServiceClient,
  args: { userId: string; query: string; limit: number; maxChars: number },
  call: { requestId: string; deadline: number | undefined },
): Promise<{ matches: SearchMatch[]; terms: string[]; error?: SearchProblem }> {
  try {
    const answer = await memory.callTool(
      MEMORY_SEARCH_TOOL,
      { user_id: args.userId, query: args.query, limit: args.limit, max_chars: args.maxChars },
      { requestId: call.requestId, deadline: budgetFor(call.deadline), schema: searchAnswer },
    );
    // Memory answers for the user asked about; anything else is not shown.
    const matches = answer.results.filter((m) => m.user_id === args.userId);
    if (answer.timed_out === true) return { matches: [], terms: answer.terms, error: 'search_timed_out' };
    return { matches, terms: answer.terms };
  } catch (err) {
    return { matches: [], terms: [], error: memoryProblem(err) };
  }
}
