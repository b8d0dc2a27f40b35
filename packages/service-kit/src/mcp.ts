import { CortexError } from '@cortex/errors';
import { systemClock } from '@cortex/resilience';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import { mapError } from './error-mapping';
import { argsSchema, type Tool, type ToolAnnotations } from './tools';

/** What a client may put in `_meta` of a request (vendor-prefixed, as MCP asks). */
export const MCP_META = {
  requestId: 'cortex/request_id',
  /** Milliseconds the caller still waits, as the `x-cortex-deadline-ms` header. */
  deadlineMs: 'cortex/deadline_ms',
  idempotencyKey: 'cortex/idempotency_key',
  traceparent: 'traceparent',
} as const;

/** JSON-RPC's implementation-defined server error: dependency and capacity trouble, with our code. */
export const MCP_SERVER_ERROR = -32000;
/** MCP's code for a resource URI nothing answers to. */
const MCP_RESOURCE_NOT_FOUND = -32002;

export interface McpMeta {
  requestId?: string;
  deadlineMs?: number;
  idempotencyKey?: string;
  traceparent?: string;
}

export interface McpCall {
  request: FastifyRequest;
  meta: McpMeta;
  /** Aborted when the client cancels or goes away. */
  signal: AbortSignal;
}

/** One tool as MCP serves it: JSON schemas already made, a call that throws our errors. */
export interface McpTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: ToolAnnotations;
  call(args: unknown, call: McpCall): Promise<unknown>;
}

/** A resource template answering JSON (`application/json`). */
export interface McpResourceTemplate {
  name: string;
  uriTemplate: string;
  description: string;
  /** The template's parameters when `uri` is one of its URIs. */
  match(uri: URL): Record<string, string> | undefined;
  read(params: Record<string, string>, call: McpCall): Promise<unknown>;
}

export interface McpOptions {
  name: string;
  version: string;
  tools: readonly McpTool[];
  /** The caller's per-tool permission: others are left out of `tools/list` and refused (forbidden). */
  mayCall?: (request: FastifyRequest, tool: string) => boolean;
  resources?: readonly McpResourceTemplate[];
  /** Authentication for `/mcp` where the app has no global hook (the gateway). */
  preHandler?: preHandlerHookHandler;
  /** Host names (port ignored) `/mcp` answers to; undefined or `*` = any. */
  allowedHosts?: readonly string[];
  /** Origins a browser may call `/mcp` from; a request without Origin is not a browser's. */
  allowedOrigins?: readonly string[];
  bodyLimit?: number;
}

const metaSchema = z
  .object({
    [MCP_META.requestId]: z
      .string()
      .regex(/^[\w.:-]{1,128}$/)
      .optional()
      .catch(undefined),
    [MCP_META.deadlineMs]: z.number().int().positive().max(3_600_000).optional().catch(undefined),
    [MCP_META.idempotencyKey]: z.string().min(1).max(256).optional().catch(undefined),
    [MCP_META.traceparent]: z
      .string()
      .regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/)
      .optional()
      .catch(undefined),
  })
  .catch({});

export function readMeta(raw: unknown): McpMeta {
  const m = metaSchema.parse(raw ?? {}) as Record<string, string | number | undefined>;
  const meta: McpMeta = {};
  if (typeof m[MCP_META.requestId] === 'string') meta.requestId = m[MCP_META.requestId] as string;
  if (typeof m[MCP_META.deadlineMs] === 'number') meta.deadlineMs = m[MCP_META.deadlineMs] as number;
  if (typeof m[MCP_META.idempotencyKey] === 'string')
    meta.idempotencyKey = m[MCP_META.idempotencyKey] as string;
  if (typeof m[MCP_META.traceparent] === 'string') meta.traceparent = m[MCP_META.traceparent] as string;
  return meta;
}

const jsonText = (value: unknown) => [{ type: 'text' as const, text: JSON.stringify(value) }];

/**
 * Our error as MCP says it (docs/mcp.md): invalid arguments are JSON-RPC `InvalidParams`;
 * trouble that passes (timeout, unavailable, overload, rate limits) and bugs are JSON-RPC errors
 * carrying our code and `retryAfterMs`; a domain outcome (conflict, not found, forbidden) is a
 * tool result with `isError` and our error body in `structuredContent`, so the model can read it.
 */
function mcpErrorResult(err: unknown, requestId: string): CallToolResult {
  const mapped = mapError(err);
  const body = {
    error: {
      code: mapped.code,
      message: mapped.message,
      request_id: requestId,
      timestamp: new Date().toISOString(),
      ...(mapped.details === undefined ? {} : { details: mapped.details }),
    },
  };
  if (mapped.code === 'invalid_request' && mapped.status === 400) {
    throw new McpError(ErrorCode.InvalidParams, mapped.message, body.error);
  }
  if (mapped.status >= 500 || mapped.status === 429) {
    throw new McpError(MCP_SERVER_ERROR, mapped.message, {
      ...body.error,
      ...(mapped.retryAfterMs === undefined ? {} : { retryAfterMs: mapped.retryAfterMs }),
    });
  }
  return { isError: true, content: jsonText(body), structuredContent: body };
}

function hostOf(value: string): string {
  try {
    return new URL(`http://${value}`).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function allowList(list: readonly string[] | undefined) {
  if (list === undefined || list.includes('*')) return undefined;
  return new Set(list.map((v) => v.toLowerCase()));
}

/**
 * `POST /mcp`: the official SDK's Streamable HTTP transport, stateless, with a new server and
 * transport per request (advisory GHSA-345p-7cg4-v4c7: a shared one mixes clients' answers).
 * GET and DELETE answer 405: without sessions there is no stream to open and none to end.
 */
export function registerMcp(app: FastifyInstance, options: McpOptions) {
  const hosts = allowList(options.allowedHosts);
  const origins = allowList(options.allowedOrigins);
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends its own Host/Origin.
  const guard = async (request: FastifyRequest) => {
    if (hosts && !hosts.has(hostOf(request.headers.host ?? ''))) {
      throw new CortexError('forbidden', 'Host not allowed for /mcp');
    }
    const origin = request.headers.origin;
    if (origin === undefined || (origins === undefined && hosts === undefined)) return;
    // With hosts restricted and no origin list, no browser origin is trusted.
    if (origins === undefined || !origins.has(origin.toLowerCase())) {
      throw new CortexError('forbidden', 'Origin not allowed for /mcp');
    }
  };
  const preHandler = options.preHandler ? [guard, options.preHandler] : [guard];
  const refuse = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', 'POST');
    throw new CortexError('method_not_allowed', 'This MCP server is stateless: POST only');
  };
  app.get('/mcp', { preHandler }, refuse);
  app.delete('/mcp', { preHandler }, refuse);
  app.post(
    '/mcp',
    { preHandler, ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}) },
    async (request, reply) => {
      const server = serverFor(request, options);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      // The hooks' headers (X-Request-ID) on the raw response the transport writes.
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) reply.raw.setHeader(name, value as string);
      }
      reply.hijack();
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(request.raw, reply.raw, request.body);
    },
  );
}

function serverFor(request: FastifyRequest, options: McpOptions) {
  const byName = new Map(options.tools.map((t) => [t.name, t]));
  const may = (name: string) => options.mayCall?.(request, name) ?? true;
  const tools = options.tools.filter((t) => may(t.name));
  const resources = options.resources ?? [];
  const server = new Server(
    { name: options.name, version: options.version },
    { capabilities: { tools: {}, ...(resources.length > 0 ? { resources: {} } : {}) } },
  );
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: tools.map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.inputSchema as { type: 'object' },
      ...(t.outputSchema ? { outputSchema: t.outputSchema as { type: 'object' } } : {}),
      ...(t.annotations ? { annotations: t.annotations } : {}),
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (rpc, extra): Promise<CallToolResult> => {
    const tool = byName.get(rpc.params.name);
    if (!tool) {
      throw new McpError(ErrorCode.InvalidParams, `No tool named ${JSON.stringify(rpc.params.name)}`, {
        code: 'tool_not_found',
      });
    }
    const meta = readMeta(rpc.params._meta);
    try {
      if (!may(tool.name)) {
        throw new CortexError('forbidden', `${request.caller ?? 'caller'} may not use ${tool.name}`);
      }
      const result = await tool.call(rpc.params.arguments ?? {}, { request, meta, signal: extra.signal });
      const structured =
        typeof result === 'object' && result !== null && !Array.isArray(result)
          ? { structuredContent: result as Record<string, unknown> }
          : {};
      return { content: jsonText(result), ...structured };
    } catch (err) {
      if (err instanceof McpError) throw err;
      if (mapError(err).isBug) request.log.error({ err, tool: tool.name }, 'tool failed');
      return mcpErrorResult(err, meta.requestId ?? request.id);
    }
  });
  if (resources.length > 0) {
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: [] }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: resources.map((r) => ({
        name: r.name,
        uriTemplate: r.uriTemplate,
        description: r.description,
        mimeType: 'application/json',
      })),
    }));
    server.setRequestHandler(ReadResourceRequestSchema, async (rpc, extra) => {
      const meta = readMeta(rpc.params._meta);
      let uri: URL;
      try {
        uri = new URL(rpc.params.uri);
      } catch {
        throw new McpError(ErrorCode.InvalidParams, 'Resource URI is not a URL');
      }
      for (const r of resources) {
        const params = r.match(uri);
        if (!params) continue;
        try {
          const value = await r.read(params, { request, meta, signal: extra.signal });
          return {
            contents: [{ uri: rpc.params.uri, mimeType: 'application/json', text: JSON.stringify(value) }],
          };
        } catch (err) {
          const result = mcpErrorResult(err, meta.requestId ?? request.id);
          // A resource has no error result: the body goes in a JSON-RPC error.
          throw new McpError(MCP_RESOURCE_NOT_FOUND, 'Resource read failed', result.structuredContent);
        }
      }
      throw new McpError(MCP_RESOURCE_NOT_FOUND, `No resource ${JSON.stringify(rpc.params.uri)}`);
    });
  }
  return server;
}

/** The error body a domain outcome answers with (`isError` results). */
const errorBody = z.object({
  error: z.looseObject({ code: z.string(), message: z.string(), request_id: z.string().optional() }),
});

/**
 * The declared result or our error body: MCP clients (the SDK's among them) check
 * `structuredContent` against `outputSchema` even on `isError` results, so the schema says both.
 */
function outputSchema(result: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...union } = z.toJSONSchema(z.union([result, errorBody])) as Record<string, unknown>;
  return { type: 'object', ...union };
}

/**
 * A service's tools as MCP tools: the same zod arguments (as `inputSchema`), the same run, and
 * the REST route's error mapping; `mayUse` is the caller's per-tool permission.
 */
export function mcpTools<C>(
  tools: readonly Tool<C, z.ZodType>[],
  ctx: C,
  mapToolError: (err: unknown) => unknown = (err) => err,
): McpTool[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    inputSchema: argsSchema(tool.args),
    ...(tool.result ? { outputSchema: outputSchema(tool.result) } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
    async call(raw, { request, meta }) {
      const args = tool.args.parse(raw);
      const metaDeadline = meta.deadlineMs === undefined ? undefined : systemClock.now() + meta.deadlineMs;
      const deadline =
        request.deadline === undefined
          ? metaDeadline
          : Math.min(request.deadline, metaDeadline ?? Number.POSITIVE_INFINITY);
      try {
        return await tool.run(args, ctx, {
          log: request.log,
          requestId: meta.requestId ?? request.id,
          deadline,
        });
      } catch (err) {
        throw mapToolError(err);
      }
    },
  }));
}
