import { CortexError, codeForOwnStatus, isErrorCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import {
  argsSchema,
  type McpCall,
  type McpResourceTemplate,
  type McpTool,
  registerMcp,
  type ToolAnnotations,
} from '@cortex/service-kit';
import type { FastifyInstance, FastifyRequest, InjectOptions, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { Limiter } from '../plugins/protection';
import { historyItems } from './answers';
import { analysisParams, analysisQuery, searchQuery } from './cognition';
import { inputBody } from './input';
import { contextQuery, historyQuery } from './reading';

/** The largest MCP request: a `send_input` of the largest input, with room for the envelope. */
const MCP_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * A user tool: its arguments, and the REST request that does it. Each tool is its REST route
 * (same validation, rate limits, fallbacks, idempotency), so the two faces cannot drift; the
 * user is always the token's, never an argument.
 */
interface GatewayTool {
  name: string;
  description: string;
  args: z.ZodObject;
  result: z.ZodType;
  annotations: ToolAnnotations;
  rest(args: Record<string, unknown>): { method: 'GET' | 'POST'; url: string; payload?: object };
}

const query = (args: Record<string, unknown>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(args)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
};

const analyzeArgs = analysisParams.extend({ analysis_type: analysisQuery.shape.type });

const gatewayTools: readonly GatewayTool[] = [
  {
    name: 'send_input',
    description:
      "Send one input (a message, a note) to the user's memory. Pass _meta['cortex/idempotency_key'] to make a retry safe.",
    args: inputBody,
    result: z.looseObject({
      status: z.enum(['received', 'received_storage_pending', 'received_not_stored']),
      item_id: z.string(),
      data: z.looseObject({}),
    }),
    annotations: { readOnlyHint: false, idempotentHint: false },
    rest: (args) => ({ method: 'POST', url: '/input', payload: args }),
  },
  {
    name: 'read_history',
    description: "The user's stored inputs, newest first.",
    args: historyQuery,
    result: z.looseObject({ items: z.array(z.looseObject({})), count: z.number() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    rest: (args) => ({ method: 'GET', url: `/history${query(args)}` }),
  },
  {
    name: 'search',
    description: "Full-text search of the user's whole history, best matches first.",
    args: searchQuery,
    result: z.looseObject({ results: z.array(z.looseObject({})), count: z.number(), query: z.string() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    rest: (args) => ({ method: 'GET', url: `/search${query(args)}` }),
  },
  {
    name: 'get_context',
    description: "The user's inputs most relevant to a query (the newest without one).",
    args: contextQuery,
    result: z.looseObject({ context: z.array(z.looseObject({})), count: z.number() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    rest: (args) => ({ method: 'GET', url: `/context${query(args)}` }),
  },
  {
    name: 'analyze_conversation',
    description: "Summary, topics or sentiment of one of the user's conversations.",
    args: analyzeArgs,
    result: z.looseObject({ type: z.string(), conversation_id: z.string(), results: z.unknown() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    rest: ({ conversation_id, analysis_type }) => ({
      method: 'GET',
      url: `/analysis/${encodeURIComponent(String(conversation_id))}${query({ type: analysis_type })}`,
    }),
  },
];

const errorBody = z.object({
  error: z.looseObject({ code: z.string(), message: z.string(), retry_after: z.number().optional() }),
});

/** The REST route's answer, or its error body as our error (mapped to MCP by service-kit). */
async function viaRest(
  app: FastifyInstance,
  request: FastifyRequest,
  meta: McpCall['meta'],
  rest: InjectOptions,
) {
  const headers: Record<string, string> = {
    authorization: request.headers.authorization as string,
    'x-request-id': meta.requestId ?? request.id,
  };
  if (meta.idempotencyKey !== undefined) headers['idempotency-key'] = meta.idempotencyKey;
  if (meta.traceparent !== undefined) headers.traceparent = meta.traceparent;
  // From the client's own address: the per-address limit charges it, not loopback.
  const res = await app.inject({ ...rest, headers, remoteAddress: request.ip });
  let body: unknown;
  try {
    body = res.json();
  } catch {
    body = undefined;
  }
  if (res.statusCode === 200) return body;
  const parsed = errorBody.safeParse(body);
  const code =
    parsed.success && isErrorCode(parsed.data.error.code)
      ? parsed.data.error.code
      : codeForOwnStatus(res.statusCode);
  const retryAfter = Number(res.headers['retry-after']);
  throw new CortexError(code, parsed.success ? parsed.data.error.message : `HTTP ${res.statusCode}`, {
    status: res.statusCode,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    ...(parsed.success && parsed.data.error.details !== undefined
      ? { details: parsed.data.error.details }
      : {}),
  });
}

export interface McpRouteDeps {
  memory: ServiceClient;
  /** Verifies the user's token only: each tool call is charged by its REST route, once. */
  authenticate: preHandlerHookHandler;
  limitUser: Limiter;
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
}

const conversationLimit = 200;

/**
 * `/mcp` for a user's agent (docs/mcp.md): the tools above and two JSON resource templates,
 * `cortex://history{?limit}` and `cortex://conversations/{conversation_id}`, both the token's user's.
 */
export function mcpRoutes(app: FastifyInstance, deps: McpRouteDeps) {
  const tools: McpTool[] = gatewayTools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    inputSchema: argsSchema(tool.args),
    outputSchema: {
      type: 'object',
      anyOf: [
        z.toJSONSchema(tool.result),
        z.toJSONSchema(z.object({ error: z.looseObject({ code: z.string(), message: z.string() }) })),
      ].map(({ $schema: _, ...s }) => s),
    },
    annotations: tool.annotations,
    async call(raw, { request, meta }) {
      const args = tool.args.parse(raw) as Record<string, unknown>;
      return viaRest(app, request, meta, tool.rest(args));
    },
  }));
  const resources: McpResourceTemplate[] = [
    {
      name: 'history',
      uriTemplate: 'cortex://history{?limit}',
      description: 'Your stored inputs, newest first (as read_history).',
      match: (uri) =>
        uri.protocol === 'cortex:' && uri.host === 'history' && (uri.pathname === '' || uri.pathname === '/')
          ? Object.fromEntries(uri.searchParams)
          : undefined,
      read: (params, { request, meta }) => {
        const args = historyQuery.parse(params);
        return viaRest(app, request, meta, { method: 'GET', url: `/history${query(args)}` });
      },
    },
    {
      name: 'conversation',
      uriTemplate: 'cortex://conversations/{conversation_id}',
      description: 'One of your conversations, oldest first.',
      match: (uri) => {
        const id = uri.protocol === 'cortex:' && uri.host === 'conversations' ? uri.pathname.slice(1) : '';
        return id !== '' && !id.includes('/') ? { conversation_id: decodeURIComponent(id) } : undefined;
      },
      read: async ({ conversation_id }, { request, meta }) => {
        const { conversation_id: id } = analysisParams.parse({ conversation_id });
        await deps.limitUser(request);
        const user = request.user.id;
        // Memory scopes the conversation to the user; the answer is checked to be only theirs.
        const raw = await deps.memory.collect(`conversation/${encodeURIComponent(id)}`, {
          query: { user_id: user, limit: conversationLimit },
          requestId: meta.requestId ?? request.id,
        });
        const items = historyItems(raw, user);
        return { conversation_id: id, items, count: items.length };
      },
    },
  ];
  registerMcp(app, {
    name: 'cortex-gateway',
    version: '0.1.0',
    tools,
    resources,
    preHandler: deps.authenticate,
    allowedHosts: deps.allowedHosts,
    allowedOrigins: deps.allowedOrigins,
    bodyLimit: MCP_BODY_LIMIT_BYTES,
  });
}
