import { CortexError, hasCode } from '@cortex/errors';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { z } from 'zod';

export interface ToolCall {
  log: FastifyBaseLogger;
  requestId: string;
  deadline: number | undefined;
}

/** MCP tool annotations: hints for clients, never a security boundary. */
export interface ToolAnnotations {
  readOnlyHint?: boolean;
  idempotentHint?: boolean;
  destructiveHint?: boolean;
}

export interface Tool<C, S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  args: S;
  /** The result's shape where it is declared: MCP's `outputSchema` (documentation, not checked here). */
  result?: z.ZodType;
  annotations?: ToolAnnotations;
  run(args: z.infer<S>, ctx: C, call: ToolCall): Promise<unknown>;
}

/** A tool's arguments as JSON Schema, as callers send them (defaulted fields optional). */
export function argsSchema(args: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(args, { io: 'input' }) as Record<string, unknown>;
}

const toolBody = z.union([
  z.object({ arguments: z.record(z.string(), z.unknown()) }).strict(),
  z.record(z.string(), z.unknown()),
]);

/**
 * The service wire format: `POST /tool/{name}` with `{arguments}` (or the raw arguments object)
 * answers `{result}`. Argument errors are 400 `invalid_request`; unknown tools 404; a tool's own
 * failure is 500 `tool_execution_error` unless it raised a more precise code.
 */
export function registerTools<C>(
  app: FastifyInstance,
  tools: readonly Tool<C, z.ZodType>[],
  ctx: C,
  mapError: (err: unknown) => unknown = (err) => err,
) {
  const byName = new Map(tools.map((t) => [t.name, t]));
  app.get('/tools', async () => ({
    tools: tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: argsSchema(t.args),
    })),
  }));
  app.post<{ Params: { name: string } }>('/tool/:name', async (request) => {
    const tool = byName.get(request.params.name);
    if (!tool)
      throw new CortexError('tool_not_found', `No tool named ${JSON.stringify(request.params.name)}`);
    const body = toolBody.parse(request.body ?? {});
    const raw = 'arguments' in body && Object.keys(body).length === 1 ? body.arguments : body;
    const args = tool.args.parse(raw);
    try {
      const result = await tool.run(args, ctx, {
        log: request.log,
        requestId: request.id,
        deadline: request.deadline,
      });
      return { result };
    } catch (err) {
      const mapped = mapError(err);
      if (hasCode(mapped) || (mapped as { name?: string })?.name === 'ZodError') throw mapped;
      request.log.error({ err, tool: tool.name }, 'tool failed');
      throw new CortexError('tool_execution_error', `Tool ${tool.name} failed`, { cause: err });
    }
  });
}
