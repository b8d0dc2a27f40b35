import type { ServiceClient } from '@cortex/network-client';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import { analysisOf, analysisResult, searchOf, searchResult } from './answers';

export const analysisParams = z.object({ conversation_id: z.string().min(1).max(256) });
export const analysisQuery = z.object({
  type: z.enum(['summary', 'topics', 'sentiment']).default('summary'),
});
export const searchQuery = z.object({
  query: z.string().trim().min(1).max(1000),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

export interface CognitionRouteDeps {
  cognition: ServiceClient;
  /** Cognition's attempt timeout: told to cognition as its deadline, so it degrades within it. */
  timeoutMs: number;
  authenticate: preHandlerHookHandler;
}

/**
 * The user's own analyses, by way of cognition's tools. Cognition answers 200 with an `error`
 * field when memory is away, so those answers pass through, but only in the contract's shape and
 * only about this user: anything else is cognition's fault (502 `data_error`), never shown.
 */
export function cognitionRoutes(app: FastifyInstance, deps: CognitionRouteDeps) {
  app.get<{ Params: { conversation_id: string } }>(
    '/analysis/:conversation_id',
    { preHandler: deps.authenticate },
    async (request) => {
      const { conversation_id } = analysisParams.parse(request.params);
      const { type } = analysisQuery.parse(request.query);
      const answer = await deps.cognition.callTool(
        'analyze_conversation',
        { user_id: request.user.id, conversation_id, analysis_type: type },
        {
          requestId: request.id,
          deadline: deps.cognition.deadlineAfter(deps.timeoutMs),
          schema: analysisResult,
        },
      );
      return analysisOf(conversation_id, answer);
    },
  );

  app.get('/search', { preHandler: deps.authenticate }, async (request) => {
    const { query, limit } = searchQuery.parse(request.query);
    const answer = await deps.cognition.callTool(
      'search_history',
      { user_id: request.user.id, query, limit },
      {
        requestId: request.id,
        deadline: deps.cognition.deadlineAfter(deps.timeoutMs),
        schema: searchResult,
      },
    );
    return searchOf(request.user.id, answer);
  });
}
