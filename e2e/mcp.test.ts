import { request as httpRequest } from 'node:http';
import { http, tokenFor } from '@cortex/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { primaryMode, System } from './harness/system';

// Issue 18: the gateway's /mcp, spoken to by the official SDK client over real sockets, against
// real memory and cognition processes.
async function connect(gw: string, token: string) {
  const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${gw}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

const json = (result: { contents: object[] }) =>
  JSON.parse(String((result.contents[0] as { text?: unknown } | undefined)?.text));

/** A raw request with a Host header of our choosing (fetch would not send it). */
function rawPost(url: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  });
}

describe('gateway /mcp', () => {
  let system: System;
  let gw: string;
  let alice: Client;
  let bob: Client;
  let aliceToken: string;

  beforeAll(async () => {
    system = await System.start({ database: primaryMode() });
    gw = system.gateway.url;
    aliceToken = await tokenFor('mcp-alice');
    alice = await connect(gw, aliceToken);
    bob = await connect(gw, await tokenFor('mcp-bob'));
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await system?.stop();
  });

  it('lists the user tools, none of which takes a user id', async () => {
    const { tools } = await alice.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'analyze_conversation',
      'get_context',
      'read_history',
      'search',
      'send_input',
    ]);
    for (const t of tools) {
      expect(Object.keys(t.inputSchema.properties ?? {})).not.toContain('user_id');
      expect(t.outputSchema?.type).toBe('object');
    }
    expect(tools.find((t) => t.name === 'read_history')?.annotations).toMatchObject({ readOnlyHint: true });
    expect(tools.find((t) => t.name === 'send_input')?.annotations).toMatchObject({ readOnlyHint: false });
  });

  it('calls every tool as the token user, answering as the REST routes do', async () => {
    const sent = await alice.callTool({
      name: 'send_input',
      // A user_id argument is not the user: the token is.
      arguments: {
        content: 'The orchard survey counted ninety pear trees.',
        conversation_id: 'mcp-orchard',
        user_id: 'mcp-bob',
      },
      _meta: { 'cortex/idempotency_key': 'mcp-key-1', 'cortex/request_id': 'mcp-e2e-1' },
    });
    expect(sent.isError).toBeFalsy();
    const first = sent.structuredContent as { status: string; item_id: string };
    expect(first.status).toBe('received');
    const retry = await alice.callTool({
      name: 'send_input',
      arguments: { content: 'The orchard survey counted ninety pear trees.', conversation_id: 'mcp-orchard' },
      _meta: { 'cortex/idempotency_key': 'mcp-key-1' },
    });
    expect((retry.structuredContent as { item_id: string }).item_id).toBe(first.item_id);
    await alice.callTool({
      name: 'send_input',
      arguments: { content: 'Pear blossom came early in the orchard.', conversation_id: 'mcp-orchard' },
    });

    const history = await alice.callTool({ name: 'read_history', arguments: { limit: 10 } });
    const rest = await http('GET', `${gw}/history?limit=10`, { token: aliceToken });
    expect(history.structuredContent).toEqual(rest.body);
    expect((history.structuredContent as { count: number }).count).toBe(2);

    const search = await alice.callTool({ name: 'search', arguments: { query: 'orchard pear' } });
    expect((search.structuredContent as { count: number }).count).toBe(2);
    const context = await alice.callTool({ name: 'get_context', arguments: { query: 'blossom', limit: 5 } });
    expect((context.structuredContent as { context: { content: string }[] }).context[0]?.content).toContain(
      'blossom',
    );
    const analysis = await alice.callTool({
      name: 'analyze_conversation',
      arguments: { conversation_id: 'mcp-orchard', analysis_type: 'topics' },
    });
    expect(analysis.structuredContent).toMatchObject({ type: 'topics', conversation_id: 'mcp-orchard' });
  });

  it('reads history and a conversation as JSON resources of the token user', async () => {
    const { resourceTemplates } = await alice.listResourceTemplates();
    expect(resourceTemplates.map((r) => r.uriTemplate).sort()).toEqual([
      'cortex://conversations/{conversation_id}',
      'cortex://history{?limit}',
    ]);
    const history = json(await alice.readResource({ uri: 'cortex://history?limit=1' }));
    expect(history.count).toBe(1);
    const conversation = json(await alice.readResource({ uri: 'cortex://conversations/mcp-orchard' }));
    expect(conversation.count).toBe(2);
    expect(conversation.items.map((i: { conversation_id: string }) => i.conversation_id)).toEqual([
      'mcp-orchard',
      'mcp-orchard',
    ]);
  });

  it("never shows one user another's data", async () => {
    const history = await bob.callTool({ name: 'read_history', arguments: {} });
    expect(history.structuredContent).toMatchObject({ count: 0 });
    const search = await bob.callTool({ name: 'search', arguments: { query: 'orchard pear' } });
    expect(search.structuredContent).toMatchObject({ count: 0 });
    const conversation = json(await bob.readResource({ uri: 'cortex://conversations/mcp-orchard' }));
    expect(conversation.count).toBe(0);
    const analysis = await bob.callTool({
      name: 'analyze_conversation',
      arguments: { conversation_id: 'mcp-orchard', analysis_type: 'summary' },
    });
    expect(analysis.structuredContent).toMatchObject({ message_count: 0 });
  });

  it('refuses invalid calls as JSON-RPC errors', async () => {
    const invalid = await alice
      .callTool({ name: 'send_input', arguments: { content: '' } })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(McpError);
    expect((invalid as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((invalid as McpError).data).toMatchObject({ code: 'invalid_request' });
    const unknown = await alice
      .callTool({ name: 'delete_everything', arguments: {} })
      .catch((e: unknown) => e);
    expect((unknown as McpError).code).toBe(ErrorCode.InvalidParams);
    const resource = await alice.readResource({ uri: 'cortex://elsewhere/x' }).catch((e: unknown) => e);
    expect(resource).toBeInstanceOf(McpError);
  });

  it('refuses no token (401), a foreign Origin or Host (403), and GET (405)', async () => {
    const bare = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(bare.connect(new StreamableHTTPClientTransport(new URL(`${gw}/mcp`)))).rejects.toMatchObject(
      {
        code: 401,
      },
    );
    const headers = {
      authorization: `Bearer ${aliceToken}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    expect(await rawPost(`${gw}/mcp`, { ...headers, origin: 'http://evil.example' })).toBe(403);
    expect(await rawPost(`${gw}/mcp`, { ...headers, host: 'evil.example' })).toBe(403);
    expect(await rawPost(`${gw}/mcp`, headers)).toBe(200);
    const get = await http('GET', `${gw}/mcp`, { token: aliceToken });
    expect(get.status).toBe(405);
    expect(get.body.error.code).toBe('method_not_allowed');
  });
});
