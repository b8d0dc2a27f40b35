import {
  errorResponses,
  type JsonSchema,
  mcpPaths,
  type OpenApiDocument,
  type PathItem,
  parametersOf,
  sseContent,
  type Tool,
  toolsDocument,
} from '@cortex/service-kit';
import { z } from 'zod';
import { eventsQuery } from './routes/events';
import { limitQuery } from './routes/resources';
import { userId } from './tools/input-schemas';
import type { MemoryContext } from './tools/tool';

const RESOURCE_ERRORS = errorResponses({
  400: 'A parameter is out of range (`invalid_request`)',
  401: 'No valid service token (`unauthorized`)',
  403: 'The calling service may not read this resource (`forbidden`)',
});

const item: JsonSchema = {
  type: 'object',
  description:
    'A stored input; the stream ends with `{"end": true}`, an error arrives in-band as `{"error": {...}}`',
};

function resource(
  operationId: string,
  summary: string,
  path: z.ZodObject,
  query: z.ZodObject,
  data: JsonSchema,
): PathItem {
  return {
    get: {
      operationId,
      summary,
      tags: ['resources'],
      parameters: [...parametersOf(path, 'path'), ...parametersOf(query, 'query')],
      responses: {
        200: {
          description: 'Server-Sent Events',
          content: sseContent(data, 'data: lines, one JSON value each'),
        },
        ...RESOURCE_ERRORS,
      },
    },
  };
}

/** Memory's service wire format, from the schemas its tools and resources validate with. */
export function memoryDocument(tools: readonly Tool<MemoryContext, z.ZodType>[]): OpenApiDocument {
  return toolsDocument({
    service: 'memory',
    version: '0.1.0',
    description:
      'Stores and reads the users\' inputs (contract: "Service wire format"). Served at /openapi.json to authenticated services; see docs/api.md.',
    tools,
    paths: {
      '/resource/history/{user_id}': resource(
        'history',
        "A user's stored inputs, newest first",
        z.object({ user_id: userId }),
        limitQuery.pick({ limit: true }),
        item,
      ),
      '/resource/conversation/{id}': resource(
        'conversation',
        "A conversation's inputs, oldest first (optionally one user's only)",
        z.object({ id: userId }),
        limitQuery,
        item,
      ),
      '/resource/events': resource(
        'events',
        "Every user's events in commit order (gateways only); resumable with `after` or Last-Event-ID",
        z.object({}),
        eventsQuery,
        {
          type: 'object',
          description:
            'A feed event with its `seq`, also the SSE `id:`; an input stored with tracing on has `traceparent`',
        },
      ),
      ...mcpPaths('each caller sees and calls only the tools it may use'),
    },
  });
}
