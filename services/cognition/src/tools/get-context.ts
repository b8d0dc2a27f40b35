import { z } from 'zod';
import { readItems } from '../context/memory-reader';
import { searchMemory } from '../context/memory-search';
import { rankMatches, terms } from '../context/rank';
import { defineTool, idArg } from './tool';

export const getContext = defineTool({
  name: 'get_context',
  description:
    "Relevant inputs of a user: with a query, the best matches in the whole history (full-text, in memory's database); without one, the newest.",
  args: z.object({
    user_id: idArg(),
    query: z.string().max(1000).nullish(),
    limit: z.coerce.number().int().min(1).max(100).default(10),
  }),
  result: z.looseObject({
    context: z.array(z.looseObject({})),
    user_id: z.string(),
    query: z.string().nullable(),
    count: z.number(),
    error: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  async run({ user_id, query, limit }, ctx, call) {
    const answer = (context: unknown[], error: string | undefined) => ({
      context,
      user_id,
      query: query ?? null,
      count: context.length,
      ...(error ? { error } : {}),
    });
    // No word to match ("", "?"): the newest inputs, which memory's history read gives in order.
    if (!query || terms(query).length === 0) {
      const { items, error } = await readItems(ctx.memory, `history/${encodeURIComponent(user_id)}`, {
        limit,
        requestId: call.requestId,
        deadline: call.deadline,
      });
      return answer(items.slice(0, limit), error);
    }
    const {
      matches,
      terms: used,
      error,
    } = await searchMemory(
      ctx.memory,
      {
        userId: user_id,
        query,
        limit: Math.min(100, Math.max(limit * 2, 20)),
        maxChars: ctx.env.SEARCH_MAX_CHARS,
      },
      call,
    );
    return answer(
      rankMatches(matches, used)
        .slice(0, limit)
        .map((s) => s.item),
      error,
    );
  },
});
