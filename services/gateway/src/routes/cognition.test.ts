import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGatewayApp } from '../app';
import { loadGatewayEnv } from '../env';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ANN = 'ann-id';
/** Memory's own form of a stored input: it carries its owner and its seq. */
const stored = (user: string, id = 'i1') => ({
  id,
  seq: 1,
  user_id: user,
  conversation_id: 'c1',
  content: 'hello there',
  timestamp: '2026-01-01T00:00:00.000Z',
  metadata: { source: 'test' },
});
/** The same input as /history shows it: the contract's fields only. */
const shown = (id = 'i1') => ({
  id,
  conversation_id: 'c1',
  content: 'hello there',
  timestamp: '2026-01-01T00:00:00.000Z',
  metadata: { source: 'test' },
});

const analysis = {
  type: 'summary',
  conversation_id: 'c1',
  results: { summary: 'a greeting', key_points: [] },
  backend: 'local',
  message_count: 1,
};
const search = { results: [{ ...stored(ANN), score: 1 }], count: 1, query: 'hello' };
const context = { context: [stored(ANN)], user_id: ANN, query: null, count: 1 };

interface Answers {
  /** Tool name → the whole body cognition answers with (200). */
  tools?: Record<string, unknown>;
  /** Memory's `history/{user}` items, streamed then ended. */
  history?: unknown[];
}

function sse(res: ServerResponse, items: unknown[]) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const item of items) res.write(`data: ${JSON.stringify(item)}\n\n`);
}

/**
 * One fake playing both memory and cognition over a real socket, so the gateway's own clients
 * (and their checks) are what is tested. Memory's event feed gets a position and is held open,
 * as a live feed would be, so the gateway starts as it does in production.
 */
async function fakeUpstream(answers: Answers) {
  const toolCalls: { name: string; args: unknown }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"healthy"}');
    } else if (url.pathname === '/resource/events') {
      sse(res, [{ type: 'position', seq: 0 }]);
    } else if (url.pathname.startsWith('/resource/history/') && answers.history) {
      sse(res, [...answers.history, { end: true }]);
      res.end();
    } else if (url.pathname.startsWith('/tool/')) {
      const name = decodeURIComponent(url.pathname.slice('/tool/'.length));
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        toolCalls.push({ name, args: JSON.parse(body).arguments });
        const answer = answers.tools?.[name];
        if (answer === undefined) res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, toolCalls };
}

/**
 * A gateway of its own for each answer: a refused answer counts against cognition's breaker, and
 * one case's failures must not decide how the next case is met.
 */
async function gatewayFacing(answers: Answers) {
  const upstream = await fakeUpstream(answers);
  const dir = mkdtempSync(join(tmpdir(), 'gw-cognition-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const env = loadGatewayEnv({
    LOG_LEVEL: 'silent',
    JWT_SECRET: 'unit-test-secret-0123456789',
    MEMORY_SERVICE_URL: upstream.url,
    COGNITION_SERVICE_URL: upstream.url,
    PENDING_STORE_DIR: dir,
    AUTH_USERS: `ann:pw1:${ANN}`,
  });
  const app = await buildGatewayApp({ env });
  cleanups.push(() => app.close());
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: 'ann', password: 'pw1' },
  });
  const token = login.json().access_token as string;
  const get = (url: string) => app.inject({ url, headers: { authorization: `Bearer ${token}` } });
  return { get, toolCalls: upstream.toolCalls };
}

/** A refusal as the contract's error body, which must not echo what was refused. */
function expectDataError(res: { statusCode: number; body: string; json(): unknown }) {
  expect(res.statusCode).toBe(502);
  expect(res.json()).toMatchObject({ error: { code: 'data_error', request_id: expect.any(String) } });
  expect(res.body).not.toContain('bob-id');
  expect(res.body).not.toContain('garbage');
}

describe('GET /analysis/:conversation_id', () => {
  it.each([
    ['a null result', { result: null }],
    ['a string result', { result: 'garbage' }],
    ['results that are not an object', { result: { ...analysis, results: ['garbage'] } }],
    ['no type', { result: { ...analysis, type: undefined } }],
    ['an analysis of another conversation', { result: { ...analysis, conversation_id: 'bob-id-conv' } }],
  ])('refuses %s with 502 data_error', async (_, answer) => {
    const { get } = await gatewayFacing({ tools: { analyze_conversation: answer } });
    expectDataError(await get('/analysis/c1?type=summary'));
  });

  it("passes cognition's answer on, extra fields and degraded error included", async () => {
    const degraded = { ...analysis, error: 'memory_service_unavailable' };
    const { get, toolCalls } = await gatewayFacing({ tools: { analyze_conversation: { result: degraded } } });
    const res = await get('/analysis/c1?type=summary');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(degraded);
    expect(toolCalls).toEqual([
      {
        name: 'analyze_conversation',
        args: { user_id: ANN, conversation_id: 'c1', analysis_type: 'summary' },
      },
    ]);
  });
});

describe('GET /search', () => {
  it.each([
    ['a null result', { result: null }],
    ['a string result', { result: 'garbage' }],
    ['results that are not a list', { result: { ...search, results: 'garbage' } }],
    ['no count', { result: { ...search, count: undefined } }],
    ['a result of another user', { result: { ...search, results: [{ ...stored('bob-id'), score: 1 }] } }],
  ])('refuses %s with 502 data_error', async (_, answer) => {
    const { get } = await gatewayFacing({ tools: { search_history: answer } });
    expectDataError(await get('/search?query=hello'));
  });

  it("passes cognition's answer on", async () => {
    const { get, toolCalls } = await gatewayFacing({ tools: { search_history: { result: search } } });
    const res = await get('/search?query=hello&limit=3');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(search);
    expect(toolCalls).toEqual([{ name: 'search_history', args: { user_id: ANN, query: 'hello', limit: 3 } }]);
  });
});

describe('GET /context and GET /history (the schemas the dashboard shares)', () => {
  it.each([
    ['a null result', { result: null }],
    ['a string result', { result: 'garbage' }],
    ['a context for another user', { result: { ...context, user_id: 'bob-id' } }],
    ['another user in the context', { result: { ...context, context: [stored('bob-id')] } }],
  ])('refuses %s on /context with 502 data_error', async (_, answer) => {
    const { get } = await gatewayFacing({ tools: { get_context: answer } });
    expectDataError(await get('/context'));
  });

  it('passes a context of the user on', async () => {
    const { get } = await gatewayFacing({ tools: { get_context: { result: context } } });
    const res = await get('/context');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(context);
  });

  it.each([
    ['an item that is not an object', ['garbage']],
    ['an item without content', [{ ...stored(ANN), content: undefined }]],
    ["another user's item", [stored(ANN), stored('bob-id', 'i2')]],
  ])('refuses %s on /history with 502 data_error', async (_, history) => {
    const { get } = await gatewayFacing({ history });
    expectDataError(await get('/history'));
  });

  it("shows the user's items in the contract's fields", async () => {
    const { get } = await gatewayFacing({
      history: [stored(ANN), { ...stored(ANN, 'i2'), user_id: undefined }],
    });
    const res = await get('/history');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ items: [shown(), shown('i2')], count: 2 });
  });
});

describe('GET /dashboard', () => {
  const emptied = { history: { items: [], count: 0 }, context: { context: [], count: 0 } };

  it.each([
    ['null and garbage', { tools: { get_context: { result: null } }, history: ['garbage'] }],
    ['wrong shapes', { tools: { get_context: { result: 'garbage' } }, history: [{ id: 'i1' }] }],
    [
      'answers about another user',
      { tools: { get_context: { result: { ...context, user_id: 'bob-id' } } }, history: [stored('bob-id')] },
    ],
  ])('empties and names both sections when memory and cognition answer %s', async (_, answers) => {
    const { get } = await gatewayFacing(answers);
    const res = await get('/dashboard');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject(emptied);
    expect(res.json().errors).toEqual({ history: 'data_error', context: 'data_error' });
    expect(res.body).not.toContain('bob-id');
    expect(res.body).not.toContain('garbage');
  });

  it('empties only the section that was wrong', async () => {
    const { get } = await gatewayFacing({
      tools: { get_context: { result: { ...context, context: [stored('bob-id')] } } },
      history: [stored(ANN)],
    });
    const res = await get('/dashboard');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      history: { items: [shown()], count: 1 },
      context: emptied.context,
      errors: { context: 'data_error' },
    });
    expect(Object.keys(res.json().errors)).toEqual(['context']);
    expect(res.body).not.toContain('bob-id');
  });

  it('shows both sections when both answers are right', async () => {
    const { get, toolCalls } = await gatewayFacing({
      tools: { get_context: { result: context } },
      history: [stored(ANN)],
    });
    const res = await get('/dashboard');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      profile: { user_id: ANN, name: 'ann', email: null },
      history: { items: [shown()], count: 1 },
      context,
      errors: {},
    });
    expect(toolCalls).toEqual([{ name: 'get_context', args: { user_id: ANN, limit: 5 } }]);
  });
});
