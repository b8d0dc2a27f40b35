import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { type MemoryApp, startMemory, testDatabases } from '@cortex/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCognitionApp } from './app';
import { loadCognitionEnv } from './env';

const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const bearer = async (audience: 'memory' | 'cognition') => `Bearer ${await gatewayTokens.token(audience)}`;

describe.each(testDatabases())('cognition /mcp with a real memory on $name', (target) => {
  let memory: MemoryApp;
  let app: FastifyInstance;
  let db: Awaited<ReturnType<typeof target.open>>;
  let base: string;
  let client: Client;

  beforeAll(async () => {
    db = await target.open();
    const started = await startMemory(db);
    memory = started.app;
    for (const [user_id, content] of [
      ['mcp-alice', 'The glacier survey found the crevasse widening.'],
      ['mcp-alice', 'Second glacier note: the crevasse is marked.'],
      ['mcp-bob', 'Bob also writes about a glacier, privately.'],
    ] as const) {
      const res = await memory.inject({
        method: 'POST',
        url: '/tool/store_input',
        payload: { arguments: { user_id, input_data: { content, conversation_id: `conv-${user_id}` } } },
        headers: { authorization: await bearer('memory') },
      });
      expect(res.statusCode).toBe(200);
    }
    app = await buildCognitionApp({
      env: loadCognitionEnv({ LOG_LEVEL: 'silent', MEMORY_SERVICE_URL: started.url }),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new Client({ name: 'cognition-mcp-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: await bearer('cognition') } },
      }),
    );
  }, 90_000);
  afterAll(async () => {
    await client?.close();
    await app?.close();
    await memory?.close();
    await db?.close();
    await target.cleanup();
  });

  it('lists the REST tools with their schemas and annotations', async () => {
    const rest = await fetch(`${base}/tools`, { headers: { authorization: await bearer('cognition') } });
    const restTools = ((await rest.json()) as { tools: { name: string; input_schema: unknown }[] }).tools;
    const { tools } = await client.listTools();
    expect(tools.map((t) => [t.name, t.inputSchema])).toEqual(restTools.map((t) => [t.name, t.input_schema]));
    for (const t of tools) {
      expect(t.annotations?.idempotentHint).toBe(true);
      expect(t.outputSchema?.type).toBe('object');
    }
  });

  it('calls every tool, each about the named user only', async () => {
    const context = await client.callTool({
      name: 'get_context',
      arguments: { user_id: 'mcp-alice', query: 'glacier crevasse', limit: 5 },
    });
    const ctx = context.structuredContent as { context: { user_id: string }[]; count: number };
    expect(ctx.count).toBe(2);
    expect(ctx.context.every((i) => i.user_id === 'mcp-alice')).toBe(true);
    const search = await client.callTool({
      name: 'search_history',
      arguments: { user_id: 'mcp-alice', query: 'glacier' },
    });
    expect((search.structuredContent as { count: number }).count).toBe(2);
    const analysis = await client.callTool({
      name: 'analyze_conversation',
      arguments: { user_id: 'mcp-alice', conversation_id: 'conv-mcp-alice', analysis_type: 'topics' },
    });
    expect(analysis.isError).toBeFalsy();
    expect(analysis.structuredContent).toMatchObject({
      type: 'topics',
      conversation_id: 'conv-mcp-alice',
      message_count: 2,
    });
  });

  it('refuses invalid arguments as a JSON-RPC error, and a call without a token with 401', async () => {
    const err = await client
      .callTool({
        name: 'analyze_conversation',
        arguments: { user_id: 'mcp-alice', analysis_type: 'poetry' },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(ErrorCode.InvalidParams);
    const bare = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(
      bare.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`))),
    ).rejects.toMatchObject({
      code: 401,
    });
  });
});
