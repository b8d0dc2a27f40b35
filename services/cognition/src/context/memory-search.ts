import type { ServiceClient } from '@cortex/network-client';
import { z } from 'zod';
import { budgetFor, type MemoryProblem, memoryItem, memoryProblem } from './memory-reader';

/** One of memory's `search_inputs` matches: a stored input (its content cut), with its rank. */
export const searchMatch = memoryItem.extend({
  rank: z.number(),
  truncated: z.boolean(),
  content_bytes: z.number().int().nonnegative(),
});
export type SearchMatch = z.infer<typeof searchMatch>;

const searchAnswer = z.object({
  results: z.array(searchMatch).max(100),
  terms: z.array(z.string()).max(64),
});

/** The name of memory's search tool: a read, which cognition's memory permissions must allow. */
export const MEMORY_SEARCH_TOOL = 'search_inputs';

/**
 * Searches the user's whole history in memory (full-text, in the database). Memory away is a named
 * problem, never a throw, as for every read. `maxChars` bounds the content of each match: with at
 * most 100 matches, what cognition then ranks in JavaScript is bounded in bytes.
 */
export async function searchMemory(
  memory: ServiceClient,
  args: { userId: string; query: string; limit: number; maxChars: number },
  call: { requestId: string; deadline: number | undefined },
): Promise<{ matches: SearchMatch[]; terms: string[]; error?: MemoryProblem }> {
  try {
    const answer = await memory.callTool(
      MEMORY_SEARCH_TOOL,
      { user_id: args.userId, query: args.query, limit: args.limit, max_chars: args.maxChars },
      { requestId: call.requestId, deadline: budgetFor(call.deadline), schema: searchAnswer },
    );
    // Memory answers for the user asked about; anything else is not shown.
    const matches = answer.results.filter((m) => m.user_id === args.userId);
    return { matches, terms: answer.terms };
  } catch (err) {
    return { matches: [], terms: [], error: memoryProblem(err) };
  }
}
