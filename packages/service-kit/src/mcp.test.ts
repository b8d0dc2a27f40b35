import { request as httpRequest } from 'node:http';
import { CortexError } from '@cortex/errors';
import { systemClock } from '@cortex/resilience';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServiceApp } from './create-app';
import { MCP_META, MCP_SERVER_ERROR, mcpTools, readMeta, registerMcp } from './mcp';
import type { Tool, ToolCall } from './tools';

const calls: ToolCall[] = [];
const tools: Tool<null, z.ZodType>[] = [
  {
    name: 'echo',
    description: 'Echo the text.',
    args: z.object({ text: z.string().min(1), times: z.coerce.number().int().default(1) }),
    result: z.object({ text: z.string() }),
    annotations: { readOnlyHint: true, idempotentHint: true },
    async run(args, _ctx, call) {
      calls.push(call);
      const { text, times } = args as { text: string; times: number };
      return { text: text.repeat(times) };
    },
  },
  {
    name: 'fail',
    description: 'Fail with the code asked for.',
    args: z.object({ code: z.enum(['service_unavailable', 'rate_limited', 'timeout', 'conflict', 'bug']) }),
    async run(args) {
      const { code } = args as { code: string };
      if (code === 'bug') throw new Error('SELECT secret FROM internals');
      throw new CortexError(code as 'conflict', `failed: ${code}`, { retryAfterMs: 1500 });
    },
  },
];

function rawPost(url: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  });
}

describe('registerMcp with the SDK client over a socket', () => {
  const app = createServiceApp({ service: 'test', logLevel: 'silent' });
  let base: string;
  let client: Client;

  beforeAll(async () => {
    registerMcp(app, {
      name: 'test',
      version: '1.0.0',
      tools: mcpTools(tools, null),
      mayCall: (request, tool) => tool !== 'fail' || request.headers['x-may-fail'] === 'yes',
      allowedHosts: ['127.0.0.1'],
      allowedOrigins: ['http://console.local'],
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new Client({ name: 'unit', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { 'x-may-fail': 'yes' } },
      }),
    );
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('lists tools with input schema (defaults optional), output schema and annotations', async () => {
    const { tools: listed } = await client.listTools();
    const echo = listed.find((t) => t.name === 'echo');
    expect(echo?.inputSchema.required).toEqual(['text']);
    expect(echo?.annotations).toEqual({ readOnlyHint: true, idempotentHint: true });
    expect(echo?.outputSchema?.type).toBe('object');
    expect(listed.find((t) => t.name === 'fail')?.outputSchema).toBeUndefined();
  });

  it('runs a call with the request id and deadline from _meta', async () => {
    const before = systemClock.now(); // deadlines are on the service's monotonic clock
    const result = await client.callTool({
      name: 'echo',
      arguments: { text: 'ab', times: 2 },
      _meta: { [MCP_META.requestId]: 'rid-7', [MCP_META.deadlineMs]: 5000 },
    });
    expect(result.structuredContent).toEqual({ text: 'abab' });
    const call = calls.at(-1);
    expect(call?.requestId).toBe('rid-7');
    expect(call?.deadline).toBeGreaterThanOrEqual(before + 5000);
    expect(call?.deadline).toBeLessThanOrEqual(systemClock.now() + 5000);
  });

  it('maps overload, unavailability and timeouts to JSON-RPC errors with our code and retryAfterMs', async () => {
    for (const code of ['service_unavailable', 'rate_limited', 'timeout']) {
      const err = await client.callTool({ name: 'fail', arguments: { code } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(MCP_SERVER_ERROR);
      expect((err as McpError).data).toMatchObject({ code, retryAfterMs: 1500 });
    }
  });

  it('answers a domain outcome as an isError result with our error body', async () => {
    const result = await client.callTool({ name: 'fail', arguments: { code: 'conflict' } });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({
      error: { code: 'conflict', message: 'failed: conflict' },
    });
  });

  it('never shows a bug’s message', async () => {
    const err = (await client
      .callTool({ name: 'fail', arguments: { code: 'bug' } })
      .catch((e: unknown) => e)) as McpError;
    expect(err.code).toBe(MCP_SERVER_ERROR);
    expect(JSON.stringify(err)).not.toContain('SELECT');
  });

  it('refuses bad arguments and unknown tools with InvalidParams', async () => {
    const bad = (await client
      .callTool({ name: 'echo', arguments: { text: '' } })
      .catch((e: unknown) => e)) as McpError;
    expect(bad.code).toBe(ErrorCode.InvalidParams);
    const unknown = (await client
      .callTool({ name: 'nope', arguments: {} })
      .catch((e: unknown) => e)) as McpError;
    expect(unknown.code).toBe(ErrorCode.InvalidParams);
  });

  it('hides and refuses tools the caller may not call', async () => {
    const other = new Client({ name: 'other', version: '1.0.0' });
    await other.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
    expect((await other.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    const refused = await other.callTool({ name: 'fail', arguments: { code: 'conflict' } });
    expect(refused.structuredContent).toMatchObject({ error: { code: 'forbidden' } });
    await other.close();
  });

  it('answers only allowed Hosts and Origins', async () => {
    expect(await rawPost(`${base}/mcp`, {})).toBe(200);
    expect(await rawPost(`${base}/mcp`, { origin: 'http://console.local' })).toBe(200);
    expect(await rawPost(`${base}/mcp`, { origin: 'http://evil.example' })).toBe(403);
    expect(await rawPost(`${base}/mcp`, { host: 'evil.example' })).toBe(403);
  });

  it('ignores malformed _meta values rather than failing the call', () => {
    expect(readMeta({ [MCP_META.requestId]: 'bad id with spaces', [MCP_META.deadlineMs]: -1 })).toEqual({});
    expect(readMeta('nonsense')).toEqual({});
  });
});
