import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MCP_SERVER_ERROR } from '@cortex/service-kit';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayApp } from '../app';
import { loadGatewayEnv } from '../env';

async function closedPort() {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

// Memory and cognition are simply not there: reads answer from their fallbacks, so what is
// measured here is the MCP face's own protection.
describe('gateway /mcp protection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-mcp-'));
  let app: FastifyInstance;
  let base: string;
  let token: string;

  beforeAll(async () => {
    const port = await closedPort();
    app = await buildGatewayApp({
      env: loadGatewayEnv({
        LOG_LEVEL: 'silent',
        JWT_SECRET: 'unit-test-secret-0123456789',
        MEMORY_SERVICE_URL: `http://127.0.0.1:${port}`,
        COGNITION_SERVICE_URL: `http://127.0.0.1:${port}`,
        PENDING_STORE_DIR: dir,
        AUTH_USERS: 'ann:pw1:ann-id',
        RATE_LIMIT_PER_MINUTE: '3',
      }),
    });
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'ann', password: 'pw1' },
    });
    token = login.json().access_token;
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('charges each tool call to the user’s REST rate limit, and says when to come back', async () => {
    const client = new Client({ name: 'unit', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    // Connecting and listing are not tool calls: the per-user budget of 3 is untouched by them.
    await client.listTools();
    for (let i = 0; i < 3; i++) {
      const history = await client.callTool({ name: 'read_history', arguments: {} });
      expect(history.structuredContent).toMatchObject({ items: [], count: 0, fallback: true });
    }
    const limited = await client.callTool({ name: 'read_history', arguments: {} }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(McpError);
    expect((limited as McpError).code).toBe(MCP_SERVER_ERROR);
    expect((limited as McpError).data).toMatchObject({ code: 'rate_limited' });
    expect(((limited as McpError).data as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    await client.close();
  });

  it('refuses a body over its limit with 413', async () => {
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'send_input', arguments: { content: 'x'.repeat(1_100_000) } },
      }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });
});
