import type { ServiceClient } from '@cortex/network-client';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import { contextResult, historyItems } from './answers';

const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) });
const contextQuery = z.object({
  query: z.string().max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

export interface ReadingDeps {
  memory: ServiceClient;
  cognition: ServiceClient;
  /** Cognition gets this long to answer, and is told so, so it can degrade in time. */
  timeoutMs: number;
  authenticate: preHandlerHookHandler;
}

export function readingRoutes(app: FastifyInstance, deps: ReadingDeps) {
  app.get('/history', { preHandler: deps.authenticate }, async (request) => {
    const { limit } = historyQuery.parse(request.query);
    const raw = await deps.memory.collect(`history/${encodeURIComponent(request.user.id)}`, {
      query: { limit },
      requestId: request.id,
    });
    // Memory's answer is checked like any input: a wrong shape is its fault (502), not the caller's.
    const items = historyItems(raw, request.user.id);
    return { items, count: items.length };
  });

  app.get('/context', { preHandler: deps.authenticate }, async (request) => {
    const { query, limit } = contextQuery.parse(request.query);
    return deps.cognition.callTool(
      'get_context',
      { user_id: request.user.id, query: query ?? null, limit },
      {
        requestId: request.id,
        deadline: Date.now() + deps.timeoutMs,
        schema: contextResult(request.user.id),
      },
    );
  });
}
