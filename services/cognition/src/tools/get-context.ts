import { z } from 'zod';
import { readItems } from '../context/memory-reader';
import { rankByQuery } from '../context/rank';
import { defineTool, idArg } from './tool';

export const getContext = defineTool({
  name: 'get_context',
  description: 'Relevant recent inputs of a user, ranked by query match and recency.',
  args: z.object({
    user_id: idArg(),
    query: z.string().max(1000).nullish(),
    limit: z.coerce.number().int().min(1).max(100).default(10),
  }),
  async run({ user_id, query, limit }, ctx, call) {
    const { items, error } = await readItems(ctx.memory, `history/${encodeURIComponent(user_id)}`, {
      limit: ctx.env.CONTEXT_WINDOW,
      requestId: call.requestId,
      deadline: call.deadline,
    });
    const context = rankByQuery(items, query).slice(0, limit);
    return { context, user_id, query: query ?? null, count: context.length, ...(error ? { error } : {}) };
  },
});
