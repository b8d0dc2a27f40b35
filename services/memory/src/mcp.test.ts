import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS, MCP_META } from '@cortex/service-kit';
import { testDatabases } from '@cortex/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMemoryApp } from './app';
import type { Database } from './db/database';
import { loadMemoryEnv } from './env';

const signer = (issuer: 'gateway' | 'cognition') =>
  new ServiceTokenSigner({
    issuer,
    secret:
      issuer === 'gateway'
        ? DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET
        : DEVELOPMENT_SECRETS.COGNITION_SERVICE_SECRET,
  });

/** The official SDK client over a real socket, as any MCP client would connect. */
async function connect(base: string, caller: 'gateway' | 'cognition') {
  const token = await signer(caller).token('memory');
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'memory-mcp-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function rpcError(promise: Promise<unknown>): Promise<McpError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McpError);
  return err as McpError;
}

describe.each(testDatabases())('memory /mcp on $name', (target) => {
  let app: FastifyInstance;
  let db: Database;
  let base: string;
  let gateway: Client;

  beforeAll(async () => {
    db = await target.open();
    app = await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent' }), db });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    gateway = await connect(base, 'gateway');
  });
  afterAll(async () => {
    await gateway?.close();
    await app.close();
    await db.close();
    await target.cleanup();
  });

  it('lists the same tools as the REST /tools route (one list, two faces)', async () => {
    const rest = await fetch(`${base}/tools`, {
      headers: { authorization: `Bearer ${await signer('gateway').token('memory')}` },
    });
    const restTools = (
      (await rest.json()) as { tools: { name: string; description: string; input_schema: unknown }[] }
    ).tools;
    const { tools } = await gateway.listTools();
    expect(tools.map((t) => ({ name: t.name, description: t.description, schema: t.inputSchema }))).toEqual(
      restTools.map((t) => ({ name: t.name, description: t.description, schema: t.input_schema })),
    );
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('get_message')?.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.get('store_input')?.annotations).toMatchObject({
      readOnlyHint: false,
      idempotentHint: true,
    });
    expect(JSON.stringify(byName.get('store_input')?.outputSchema)).toContain('"item_id"');
  });

  it('calls every tool with results in structuredContent', async () => {
    const stored = await gateway.callTool({
      name: 'store_input',
      arguments: {
        user_id: 'mcp-u1',
        input_data: { content: 'mcp harbour lighthouse', conversation_id: 'c-mcp' },
      },
    });
    expect(stored.isError).toBeFalsy();
    const item = stored.structuredContent as { status: string; item_id: string };
    expect(item.status).toBe('stored');
    const batch = await gateway.callTool({
      name: 'store_inputs',
      arguments: { items: [{ user_id: 'mcp-u1', input_data: { content: 'second lighthouse note' } }] },
    });
    expect((batch.structuredContent as { results: { status: string }[] }).results[0]?.status).toBe('stored');
    const got = await gateway.callTool({
      name: 'get_message',
      arguments: { message_id: item.item_id, user_id: 'mcp-u1' },
    });
    expect(got.structuredContent).toMatchObject({
      status: 'found',
      message: { content: 'mcp harbour lighthouse' },
    });
    const updated = await gateway.callTool({
      name: 'update_message',
      arguments: { user_id: 'mcp-u1', message_id: item.item_id, updates: { metadata: { seen: true } } },
    });
    expect(updated.structuredContent).toMatchObject({ status: 'updated', item_id: item.item_id });
    const found = await gateway.callTool({
      name: 'search_inputs',
      arguments: { user_id: 'mcp-u1', query: 'lighthouse' },
    });
    expect((found.structuredContent as { count: number }).count).toBe(2);
    const failed = await gateway.callTool({
      name: 'record_failed_task',
      arguments: {
        user_id: 'mcp-u1',
        task: 'analyze_conversation',
        error: 'all_backends_failed',
        duration_ms: 5,
      },
    });
    expect(failed.structuredContent).toMatchObject({ user_id: 'mcp-u1' });
    const deleted = await gateway.callTool({
      name: 'delete_message',
      arguments: { user_id: 'mcp-u1', message_id: item.item_id },
    });
    expect(deleted.structuredContent).toMatchObject({ status: 'deleted' });
    // The text content is the same JSON, for clients that read only text.
    expect(JSON.parse((deleted.content as { text: string }[])[0]?.text ?? '')).toEqual(
      deleted.structuredContent,
    );
  });

  it('answers a conflict as a tool result with our error body and the request id from _meta', async () => {
    await gateway.callTool({
      name: 'store_input',
      arguments: { user_id: 'mcp-a', input_data: { id: 'mcp-x', content: 'a' } },
    });
    const clash = await gateway.callTool({
      name: 'store_input',
      arguments: { user_id: 'mcp-b', input_data: { id: 'mcp-x', content: 'b' } },
      _meta: { [MCP_META.requestId]: 'req-mcp-1' },
    });
    expect(clash.isError).toBe(true);
    expect(clash.structuredContent).toMatchObject({ error: { code: 'conflict', request_id: 'req-mcp-1' } });
  });

  it('refuses invalid arguments and unknown tools as JSON-RPC errors', async () => {
    const invalid = await rpcError(gateway.callTool({ name: 'get_message', arguments: { user_id: 'x' } }));
    expect(invalid.code).toBe(ErrorCode.InvalidParams);
    expect(invalid.data).toMatchObject({ code: 'invalid_request' });
    const unknown = await rpcError(gateway.callTool({ name: 'drop_tables', arguments: {} }));
    expect(unknown.code).toBe(ErrorCode.InvalidParams);
    expect(unknown.data).toMatchObject({ code: 'tool_not_found' });
  });

  it('gives cognition only its read tools, as REST does', async () => {
    const cognition = await connect(base, 'cognition');
    try {
      const { tools } = await cognition.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['get_message', 'record_failed_task', 'search_inputs']);
      const write = await cognition.callTool({
        name: 'store_input',
        arguments: { user_id: 'mcp-u1', input_data: { content: 'forged' } },
      });
      expect(write.isError).toBe(true);
      expect(write.structuredContent).toMatchObject({ error: { code: 'forbidden' } });
      const read = await cognition.callTool({
        name: 'search_inputs',
        arguments: { user_id: 'mcp-u1', query: 'forged' },
      });
      expect(read.structuredContent).toMatchObject({ count: 0 });
    } finally {
      await cognition.close();
    }
  });

  it('refuses a call without a service token (401) and answers GET with 405', async () => {
    const bare = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(
      bare.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`))),
    ).rejects.toMatchObject({
      code: 401,
    });
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const get = await fetch(`${base}/mcp`, {
      headers: { authorization: `Bearer ${await signer('gateway').token('memory')}` },
    });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});
