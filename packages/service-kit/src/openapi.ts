import { errorBodySchema } from '@cortex/errors';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { argsSchema, type Tool } from './tools';

/**
 * OpenAPI 3.1 documents built from the zod schemas that validate requests, so a document cannot
 * describe a request the code would refuse (or the other way round). OpenAPI 3.1's schema dialect
 * is JSON Schema 2020-12, which is what `z.toJSONSchema` writes.
 */

export type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown> & { responses: Record<string, unknown> };
export type PathItem = Partial<Record<'get' | 'post' | 'put' | 'delete' | 'patch', Operation>> &
  Record<string, unknown>;
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description?: string };
  paths: Record<string, PathItem>;
  components: Record<string, unknown>;
  [key: string]: unknown;
}

/** A zod schema as JSON Schema: `input` as callers send it (defaulted fields optional), `output` as answered. */
export function schemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  // Refinements and transforms cannot be written as JSON Schema: they are left out, not failed on.
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Query or path parameters, one per field of a zod object. */
export function parametersOf(schema: z.ZodObject, where: 'query' | 'path'): JsonSchema[] {
  const json = schemaOf(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}

const ERROR_SCHEMA_REF = { $ref: '#/components/schemas/Error' };

/** The contract's error body: every 4xx and 5xx of every service. */
export function errorSchemas(): Record<string, JsonSchema> {
  return { Error: schemaOf(errorBodySchema, 'output') };
}

/** Responses with the error body, by status, each with the reason it happens. */
export function errorResponses(reasons: Record<number, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(reasons).map(([status, description]) => [
      status,
      { description, content: { 'application/json': { schema: ERROR_SCHEMA_REF } } },
    ]),
  );
}

export function jsonContent(schema: JsonSchema) {
  return { 'application/json': { schema } };
}

/**
 * An SSE stream of `data:` lines, each one JSON value. OpenAPI 3.1 has no way to say what one
 * event holds (3.2's `itemSchema`): it is given as the extension `x-sse-data`.
 */
export function sseContent(data: JsonSchema, description: string) {
  return { 'text/event-stream': { schema: { type: 'string', description }, 'x-sse-data': data } };
}

/** `/mcp`: the same tools over MCP's stateless streamable HTTP (JSON-RPC, POST only). */
export function mcpPaths(auth: string): Record<string, PathItem> {
  const refused = {
    summary: 'Refused: the MCP server is stateless (`method_not_allowed`)',
    tags: ['mcp'],
    responses: errorResponses({ 405: 'POST only' }),
  };
  return {
    '/mcp': {
      post: {
        operationId: 'mcp',
        summary: `MCP (streamable HTTP, stateless): JSON-RPC requests for the same tools; ${auth}`,
        tags: ['mcp'],
        requestBody: {
          required: true,
          content: jsonContent({ type: 'object', description: 'A JSON-RPC 2.0 message' }),
        },
        responses: {
          200: { description: 'A JSON-RPC 2.0 response', content: jsonContent({ type: 'object' }) },
          202: { description: 'A notification was accepted' },
          ...errorResponses({
            401: 'No valid token (`unauthorized`)',
            403: 'Host or Origin not allowed (`forbidden`)',
          }),
        },
      },
      get: { operationId: 'mcpGet', ...refused },
      delete: { operationId: 'mcpDelete', ...refused },
    },
  };
}

/** `/health` and `/metrics`, which every service has. */
export function operationsPaths(): Record<string, PathItem> {
  return {
    '/health': {
      get: {
        operationId: 'health',
        summary: 'Health of the service and each dependency',
        tags: ['operations'],
        security: [],
        responses: {
          200: {
            description: '`healthy`, or `warning` (a dependency is away, the service still does its job)',
            content: jsonContent({ type: 'object', required: ['status'] }),
          },
          503: { description: '`unhealthy`', content: jsonContent({ type: 'object', required: ['status'] }) },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text format; infra/README.md lists them)',
        tags: ['operations'],
        security: [],
        responses: {
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
  };
}

export interface ToolsDocumentOptions<C> {
  service: string;
  version: string;
  description: string;
  tools: readonly Tool<C, z.ZodType>[];
  /** The service's other routes (resources, MCP), as OpenAPI path items. */
  paths?: Record<string, PathItem>;
}

const TOOL_ERRORS = {
  400: 'The arguments do not match the tool (`invalid_request`)',
  401: 'No valid service token for this service (`unauthorized`)',
  403: 'The calling service may not use this tool (`forbidden`)',
  503: 'A dependency is away now (`service_unavailable`); `Retry-After` says when to try',
  500: 'The tool failed (`tool_execution_error`)',
};

/**
 * The service wire format of memory or cognition (contract: "Service wire format"): one
 * `POST /tool/{name}` path per tool, its arguments and result from the tool's own schemas.
 */
export function toolsDocument<C>(options: ToolsDocumentOptions<C>): OpenApiDocument {
  const toolPaths: Record<string, PathItem> = {};
  for (const tool of options.tools) {
    const args = argsSchema(tool.args);
    const { $schema: _, ...argsJson } = args;
    toolPaths[`/tool/${tool.name}`] = {
      post: {
        operationId: tool.name,
        summary: tool.description,
        tags: ['tools'],
        requestBody: {
          required: true,
          description: '`{"arguments": {...}}`, or the arguments object itself',
          content: jsonContent({
            oneOf: [
              {
                type: 'object',
                properties: { arguments: argsJson },
                required: ['arguments'],
                additionalProperties: false,
              },
              argsJson,
            ],
          }),
        },
        responses: {
          200: {
            description: 'The tool ran',
            content: jsonContent({
              type: 'object',
              properties: { result: tool.result ? schemaOf(tool.result, 'output') : {} },
              required: ['result'],
            }),
          },
          ...errorResponses(TOOL_ERRORS),
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: `Cortex Core ${options.service} (service wire format)`,
      version: options.version,
      description: options.description,
    },
    security: [{ serviceToken: [] }],
    tags: [
      { name: 'tools', description: 'POST /tool/{name}: arguments in, `{result}` out' },
      { name: 'resources', description: 'GET /resource/{path}: Server-Sent Events of JSON items' },
      { name: 'mcp', description: 'The same tools over the Model Context Protocol' },
      { name: 'operations', description: 'Health, metrics and this document' },
    ],
    paths: {
      '/tools': {
        get: {
          operationId: 'listTools',
          summary: 'The tools and their argument schemas',
          tags: ['tools'],
          responses: {
            200: {
              description: 'The tools',
              content: jsonContent({
                type: 'object',
                properties: {
                  tools: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        name: { type: 'string' },
                        description: { type: 'string' },
                        input_schema: { type: 'object' },
                      },
                    },
                  },
                },
              }),
            },
            ...errorResponses({ 401: TOOL_ERRORS[401], 403: TOOL_ERRORS[403] }),
          },
        },
      },
      ...toolPaths,
      ...options.paths,
      ...operationsPaths(),
      '/openapi.json': openApiPath('This document', false),
    },
    components: {
      schemas: errorSchemas(),
      securitySchemes: {
        serviceToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "A service token: HS256, signed with the calling service's own secret, `sub` the caller, `aud` this service, `exp` at most 5 minutes after `iat` (docs/security.md).",
        },
      },
    },
  };
}

/** The path item of `GET /openapi.json` itself. */
export function openApiPath(summary: string, open: boolean): PathItem {
  return {
    get: {
      operationId: 'openapi',
      summary,
      tags: ['operations'],
      ...(open ? { security: [] } : {}),
      responses: {
        200: { description: 'An OpenAPI 3.1 document', content: jsonContent({ type: 'object' }) },
        ...(open ? {} : errorResponses({ 401: TOOL_ERRORS[401], 403: TOOL_ERRORS[403] })),
      },
    },
  };
}

/** `GET /openapi.json`: the document, built once. */
export function serveOpenApi(app: FastifyInstance, document: OpenApiDocument) {
  const body = JSON.stringify(document);
  app.get('/openapi.json', async (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8');
    return body;
  });
}
