import { createServer } from 'node:http';
import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { closedPortUrl, type MemoryApp, startMemory, testDatabases } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCognitionApp } from './app';
import { loadCognitionEnv } from './env';

// Signed as the gateway signs its calls, with its development secret.
const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const asGateway = async (audience: 'memory' | 'cognition') => ({
  authorization: `Bearer ${await gatewayTokens.token(audience)}`,
});

const tool = async (
  app: FastifyInstance,
  name: string,
  args: unknown,
  audience: 'memory' | 'cognition' = 'cognition',
) =>
  app.inject({
    method: 'POST',
    url: `/tool/${name}`,
    payload: { arguments: args },
    headers: await asGateway(audience),
  });

const HOUR = 3_600_000;
const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * HOUR).toISOString();

describe.each(testDatabases())('cognition with a real memory service on $name', (target) => {
  let memory: MemoryApp;
  let app: FastifyInstance;
  let db: Awaited<ReturnType<typeof target.open>>;

  beforeAll(async () => {
    db = await target.open();
    const started = await startMemory(db);
    memory = started.app;
    const seed: [string, string, string | null, number][] = [
      ['alice', 'The deploy to staging failed with a database lock timeout.', 'c1', 5],
      ['alice', 'I retried the deploy and the database lock is still there. Terrible.', 'c1', 4],
      ['alice', 'Ops says the database migration holds the lock.', 'c1', 3],
      ['alice', 'Lunch plans: pizza on friday?', null, 2],
      ['bob', 'Bob writes in the same conversation id, but is not alice.', 'c1', 1],
    ];
    for (const [user_id, content, conversation_id, hoursAgo] of seed) {
      const res = await tool(
        memory,
        'store_input',
        { user_id, input_data: { content, conversation_id, timestamp: at(hoursAgo) } },
        'memory',
      );
      expect(res.statusCode).toBe(200);
    }
    // carol: one old input behind 1100 newer ones; dave: inputs of 99 KB, as in the attack
    // (bench:search sends the attack itself: 60 of them).
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp") VALUES ('carol-old', 'carol', 'The zeppelin manifest, written long ago.', now() - interval '400 days')`,
    );
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'carol-' || g, 'carol', 'routine note ' || g, now() - interval '1 day' + g * interval '1 second'
         FROM generate_series(1, 1100) g`,
    );
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'dave-' || g, 'dave', left(repeat('word' || g || ' filler text ', 8000), 99000), now() - g * interval '1 minute'
         FROM generate_series(1, 20) g`,
    );
    app = await buildCognitionApp({
      env: loadCognitionEnv({ LOG_LEVEL: 'silent', MEMORY_SERVICE_URL: started.url }),
    });
    // Indexing the large inputs takes seconds on PGlite on a loaded machine.
  }, 90_000);
  afterAll(async () => {
    await app?.close();
    await memory?.close();
    await db?.close();
    await target.cleanup();
  });

  it('get_context ranks the user’s inputs by the query, and by recency without one', async () => {
    const res = await tool(app, 'get_context', { user_id: 'alice', query: 'database lock', limit: 2 });
    expect(res.statusCode).toBe(200);
    const { result } = res.json();
    expect(result).toMatchObject({ user_id: 'alice', query: 'database lock', count: 2 });
    expect(result.error).toBeUndefined();
    expect(result.context.map((c: { content: string }) => c.content)).toEqual([
      'I retried the deploy and the database lock is still there. Terrible.',
      'The deploy to staging failed with a database lock timeout.',
    ]);
    const recent = (await tool(app, 'get_context', { user_id: 'alice' })).json().result;
    expect(recent.count).toBe(4);
    expect(recent.context[0].content).toMatch(/^Lunch/);
    expect(recent.query).toBeNull();
  });

  it('search_history answers only matches, best first, with scores', async () => {
    const res = await tool(app, 'search_history', { user_id: 'alice', query: 'migration', limit: 10 });
    expect(res.statusCode).toBe(200);
    const { result } = res.json();
    expect(result).toMatchObject({ query: 'migration', count: 1 });
    expect(result.results[0]).toMatchObject({ content: 'Ops says the database migration holds the lock.' });
    expect(result.results[0].score).toBeGreaterThan(0);
    const none = (
      await tool(app, 'search_history', { user_id: 'alice', query: 'kubernetes', limit: 5 })
    ).json();
    expect(none.result).toEqual({ results: [], count: 0, query: 'kubernetes' });
    // No word of two letters: matched as text, not "everything".
    const short = (await tool(app, 'search_history', { user_id: 'alice', query: '?', limit: 10 })).json();
    expect(short.result.results.map((r: { content: string }) => r.content)).toEqual([
      'Lunch plans: pizza on friday?',
    ]);
  });

  it('search_history and get_context find an input older than the newest 1000', async () => {
    const search = (
      await tool(app, 'search_history', { user_id: 'carol', query: 'zeppelin', limit: 5 })
    ).json();
    expect(search.result.results.map((r: { id: string }) => r.id)).toEqual(['carol-old']);
    expect(search.result.results[0].score).toBeGreaterThan(0);
    const context = (await tool(app, 'get_context', { user_id: 'carol', query: 'zeppelin manifest' })).json();
    expect(context.result).toMatchObject({ user_id: 'carol', count: 1 });
    expect(context.result.context[0].id).toBe('carol-old');
    // Without a word to match, get_context is the newest inputs.
    const newest = (await tool(app, 'get_context', { user_id: 'carol', query: '?', limit: 3 })).json();
    expect(newest.result.context.map((r: { id: string }) => r.id)).toEqual([
      'carol-1100',
      'carol-1099',
      'carol-1098',
    ]);
  });

  it('bounds the worst search a user can send: 240 distinct words over inputs of 99 KB', async () => {
    const words = Array.from({ length: 240 }, (_, i) => `word${i + 1}`).join(' ');
    const res = await tool(app, 'search_history', {
      user_id: 'dave',
      query: words.slice(0, 1000),
      limit: 100,
    });
    expect(res.statusCode).toBe(200);
    const { results } = res.json().result;
    expect(results.length).toBeGreaterThan(0);
    // What reaches cognition, and what it ranks, is a bounded head of each input, not 99 KB.
    for (const r of results) {
      expect(r).toMatchObject({ user_id: 'dave', truncated: true, content_bytes: 99000 });
      expect(r.content.length).toBeLessThanOrEqual(1000);
    }
  });

  it('answers hostile queries with 200, never a 5xx', async () => {
    for (const query of ['&|!():*', "'a' & !b:* | (c", '<-> database', '\\', 'a'.repeat(1000)]) {
      const res = await tool(app, 'search_history', { user_id: 'alice', query, limit: 5 });
      expect(res.statusCode, query.slice(0, 30)).toBe(200);
      expect(res.json().result.error).toBeUndefined();
      const ctx = await tool(app, 'get_context', { user_id: 'alice', query, limit: 5 });
      expect(ctx.statusCode, query.slice(0, 30)).toBe(200);
    }
  });

  it('analyze_conversation reads only the user’s messages and answers with the local analyser', async () => {
    const analyse = async (analysis_type: string) => {
      const res = await tool(app, 'analyze_conversation', {
        user_id: 'alice',
        conversation_id: 'c1',
        analysis_type,
      });
      expect(res.statusCode).toBe(200);
      return res.json().result;
    };
    const summary = await analyse('summary');
    expect(summary).toMatchObject({
      type: 'summary',
      conversation_id: 'c1',
      backend: 'local',
      message_count: 3,
    });
    expect(summary.results.summary).toMatch(/database lock/);
    expect(summary.results.summary).not.toMatch(/Bob/);
    const topics = await analyse('topics');
    expect(topics.results.topics.slice(0, 2).map((t: { topic: string }) => t.topic)).toEqual([
      'database',
      'lock',
    ]);
    const sentiment = await analyse('sentiment');
    expect(sentiment.results).toMatchObject({ label: 'negative' });
    expect(sentiment.error).toBeUndefined();

    const empty = (
      await tool(app, 'analyze_conversation', {
        user_id: 'alice',
        conversation_id: 'nothing-here',
        analysis_type: 'summary',
      })
    ).json().result;
    expect(empty).toEqual({
      type: 'summary',
      conversation_id: 'nothing-here',
      results: { summary: '', key_points: [] },
      backend: 'local',
      message_count: 0,
    });
  });

  it('rejects invalid arguments with 400 invalid_request', async () => {
    for (const [name, args] of [
      ['analyze_conversation', { user_id: 'alice', conversation_id: 'c1', analysis_type: 'poetry' }],
      ['analyze_conversation', { user_id: 'alice', analysis_type: 'summary' }],
      ['analyze_conversation', { user_id: 'alice', conversation_id: 'c\u0000', analysis_type: 'summary' }],
      ['search_history', { user_id: 'alice', query: '   ' }],
      ['search_history', { user_id: 'alice', query: 'x', limit: 0 }],
      ['get_context', { limit: 5 }],
    ] as const) {
      const res = await tool(app, name, args);
      expect(res.statusCode, `${name} ${JSON.stringify(args)}`).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
    expect((await tool(app, 'no_such_tool', {})).statusCode).toBe(404);
  });

  it('lists its tools and reports healthy dependencies', async () => {
    const tools = (await app.inject({ url: '/tools', headers: await asGateway('cognition') }))
      .json()
      .tools.map((t: { name: string }) => t.name);
    expect(tools).toEqual(['get_context', 'analyze_conversation', 'search_history']);
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({
      status: 'healthy',
      dependencies: {
        memory: { status: 'healthy' },
        models: { status: 'healthy', backends: { local: { kind: 'local', state: 'available' } } },
      },
    });
  });
});

describe('cognition with memory away', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await buildCognitionApp({
      env: loadCognitionEnv({ LOG_LEVEL: 'silent', MEMORY_SERVICE_URL: await closedPortUrl() }),
    });
  });
  afterAll(async () => app?.close());

  it('answers every tool with 200 and memory_service_unavailable', async () => {
    const context = await tool(app, 'get_context', { user_id: 'alice', query: 'x' });
    expect(context.statusCode).toBe(200);
    expect(context.json().result).toEqual({
      context: [],
      user_id: 'alice',
      query: 'x',
      count: 0,
      error: 'memory_service_unavailable',
    });
    const search = await tool(app, 'search_history', { user_id: 'alice', query: 'x', limit: 3 });
    expect(search.statusCode).toBe(200);
    expect(search.json().result).toEqual({
      results: [],
      count: 0,
      query: 'x',
      error: 'memory_service_unavailable',
    });
    const analysis = await tool(app, 'analyze_conversation', {
      user_id: 'alice',
      conversation_id: 'c1',
      analysis_type: 'topics',
    });
    expect(analysis.statusCode).toBe(200);
    expect(analysis.json().result).toEqual({
      type: 'topics',
      conversation_id: 'c1',
      results: { topics: [] },
      backend: null,
      message_count: 0,
      error: 'memory_service_unavailable',
    });
  });

  it('stays in rotation: health is warning with 200', async () => {
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({
      status: 'warning',
      dependencies: { memory: { status: 'warning', reachable: false }, models: { status: 'healthy' } },
    });
  });
});

describe("cognition with memory's searches past their time bound", () => {
  let app: FastifyInstance;
  let searches = 0;
  // Memory as it answers a search cut by its statement timeout: 200, no results, timed_out.
  const memory = createServer((req, res) => {
    if (req.url === '/tool/search_inputs') searches++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ result: { results: [], count: 0, terms: ['deploy'], timed_out: true } }));
  });

  beforeAll(async () => {
    await new Promise<void>((r) => memory.listen(0, '127.0.0.1', r));
    app = await buildCognitionApp({
      env: loadCognitionEnv({
        LOG_LEVEL: 'silent',
        MEMORY_SERVICE_URL: `http://127.0.0.1:${(memory.address() as { port: number }).port}`,
      }),
    });
  });
  afterAll(async () => {
    await app?.close();
    memory.closeAllConnections();
    memory.close();
  });

  it('answers 200 with no results and search_timed_out, asks once per search, and keeps the circuit closed', async () => {
    // More timed-out searches than the memory breaker's failure threshold (5).
    for (let i = 0; i < 6; i++) {
      const search = await tool(app, 'search_history', { user_id: 'alice', query: 'deploy' });
      expect(search.statusCode).toBe(200);
      expect(search.json().result).toEqual({
        results: [],
        count: 0,
        query: 'deploy',
        error: 'search_timed_out',
      });
      const context = await tool(app, 'get_context', { user_id: 'alice', query: 'deploy' });
      expect(context.statusCode).toBe(200);
      expect(context.json().result).toEqual({
        context: [],
        user_id: 'alice',
        query: 'deploy',
        count: 0,
        error: 'search_timed_out',
      });
    }
    // Every search reached memory, once: none retried, none refused by an open circuit.
    expect(searches).toBe(12);
  });
});

describe('cognition with memory hanging', () => {
  it("reports memory as away (warning) within its own bound, not as the registry's timeout", async () => {
    const hanging = createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const app = await buildCognitionApp({
      env: loadCognitionEnv({
        LOG_LEVEL: 'silent',
        MEMORY_SERVICE_URL: `http://127.0.0.1:${(hanging.address() as { port: number }).port}`,
      }),
    });
    try {
      const health = await app.inject({ url: '/health' });
      expect(health.statusCode).toBe(200);
      expect(health.json().dependencies.memory).toMatchObject({ status: 'warning', reachable: false });
    } finally {
      await app.close();
      hanging.closeAllConnections();
      hanging.close();
    }
  });
});
