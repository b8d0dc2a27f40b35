import type { ServiceClient } from '@cortex/network-client';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';

const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) });
const contextQuery = z.object({
  query: z.string().max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});
const storedItem = z.object({
  id: z.string(),
  conversation_id: z.string().nullable(),
  content: z.string(),
  timestamp: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});

export interface ReadingDeps {
  memory: ServiceClient;
  cognition: ServiceClient;
  authenticate: preHandlerHookHandler;
}

export function readingRoutes(app: FastifyInstance, deps: ReadingDeps) {
  app.get('/history', { preHandler: deps.authenticate }, async (request) => {
    const { limit } = historyQuery.parse(request.query);
    const raw = await deps.memory.collect(`history/${encodeURIComponent(request.user.id)}`, {
      query: { limit },
      requestId: request.id,
    });
    const items = raw.map((r) => storedItem.parse(r));
    return { items, count: items.length };
  });

  app.get('/context', { preHandler: deps.authenticate }, async (request) => {
    const { query, limit } = contextQuery.parse(request.query);
    return deps.cognition.callTool(
      'get_context',
      { user_id: request.user.id, query: query ?? null, limit },
      { requestId: request.id },
    );
  });
}
