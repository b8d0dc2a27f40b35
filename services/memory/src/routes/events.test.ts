import { ServiceClient, ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { testDatabases } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMemoryApp } from '../app';
import type { Database } from '../db/database';
import { loadMemoryEnv } from '../env';
import { insertBatch } from '../store/input-store';

// Signed as the gateway signs its calls, with its development secret.
const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const asGateway = async (headers: Record<string, string> = {}) => ({
  ...headers,
  authorization: `Bearer ${await gatewayTokens.token('memory')}`,
});

describe.each(testDatabases())('the event feed on $name', (target) => {
  let app: FastifyInstance;
  let db: Database;
  let client: ServiceClient;
  const store = async (user: string, content: string) =>
    app.inject({
      method: 'POST',
      url: '/tool/store_input',
      headers: await asGateway(),
      payload: { user_id: user, input_data: { content } },
    });

  beforeAll(async () => {
    db = await target.open();
    app = await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent', FEED_POLL_MS: '60000' }), db });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    client = new ServiceClient({
      service: 'memory',
      urls: `http://127.0.0.1:${port}`,
      timeoutMs: 120_000,
      tokens: gatewayTokens,
    });
  });
  afterAll(async () => {
    await client.close();
    await app.close();
    await db.close();
    await target.cleanup();
  });

  it('catches up in seq order, bounded by limit, ending with the last seq', async () => {
    for (const c of ['a', 'b', 'c']) await store('feed-user', c);
    const page = await client.collect<{ seq: number; content?: string; type: string }>('events', {
      query: { after: 0, user_id: 'feed-user', follow: 'false', limit: 2 },
    });
    const inputs = page.filter((e) => e.type === 'input');
    expect(inputs.map((e) => e.content)).toEqual(['a', 'b']);
    expect(inputs[0]!.seq).toBeLessThan(inputs[1]!.seq);
  });

  it("names an input's storing span when it has one, and stores none with tracing off", async () => {
    // Tracing is off in this process: the tool stores no traceparent, and the event has none.
    const answer = await store('trace-user', 'untraced');
    const { item_id } = answer.json().result as { item_id: string };
    const column = await db.query<{ traceparent: string | null }>(
      'SELECT traceparent FROM inputs WHERE id = $1',
      [item_id],
    );
    expect(column.rows).toEqual([{ traceparent: null }]);
    // An input stored with tracing on, as memory's store writes it.
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await insertBatch(db, [
      {
        id: 'traced-1',
        user_id: 'trace-user',
        conversation_id: null,
        content: 'traced',
        metadata: {},
        timestamp: '2026-01-01T00:00:00.000Z',
        traceparent,
      },
    ]);
    const page = await client.collect<Record<string, unknown>>('events', {
      query: { after: 0, user_id: 'trace-user', follow: 'false' },
    });
    const [untraced, traced] = page.filter((e) => e.type === 'input');
    expect(untraced).toMatchObject({ id: item_id, content: 'untraced' });
    expect(untraced).not.toHaveProperty('traceparent');
    expect(traced).toEqual({
      type: 'input',
      seq: expect.any(Number),
      user_id: 'trace-user',
      traceparent,
      id: 'traced-1',
      conversation_id: null,
      content: 'traced',
      metadata: {},
      timestamp: '2026-01-01T00:00:00.000Z',
    });
  });

  it('a follower is never cut off by limit, and is woken by NOTIFY for new events', async () => {
    const got: { type: string; content?: string; user_id?: string }[] = [];
    const controller = new AbortController();
    const reading = (async () => {
      for await (const item of client.getResource('events', {
        query: { after: 0, limit: 1, user_id: 'follow-user' },
        signal: controller.signal,
        idleTimeoutMs: 120_000,
      })) {
        got.push(item as { type: string });
      }
    })().catch(() => {});
    await store('follow-user', 'one');
    await store('someone-else', 'not mine');
    await store('follow-user', 'two');
    await store('follow-user', 'three');
    // The poll interval is a minute: only a notification can deliver these in time.
    for (let i = 0; i < 100 && got.filter((e) => e.type === 'input').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    controller.abort();
    await reading;
    expect(got[0]).toMatchObject({ type: 'position', seq: 0 });
    expect(got.filter((e) => e.type === 'input').map((e) => e.content)).toEqual(['one', 'two', 'three']);
  });

  it('is woken by a commit notified while it was still reading', async () => {
    // The feed's read is held after it has run: a commit notified meanwhile (after the read's
    // snapshot) must still wake the follower, with a minute's poll interval as the only other way.
    let holdReads = false;
    let readHeld!: () => void;
    const held = new Promise<void>((r) => {
      readHeld = r;
    });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const slow: Database = Object.create(db, {
      query: {
        value: async (sql: string, params?: unknown[]) => {
          const result = await db.query(sql, params);
          if (holdReads && sql.includes('events_after_v2(')) {
            holdReads = false;
            readHeld();
            await released;
          }
          return result;
        },
      },
    });
    const lagging = await buildMemoryApp({
      env: loadMemoryEnv({ LOG_LEVEL: 'silent', FEED_POLL_MS: '60000' }),
      db: slow,
    });
    await lagging.listen({ port: 0, host: '127.0.0.1' });
    const { port } = lagging.server.address() as { port: number };
    const follower = new ServiceClient({
      service: 'memory',
      urls: `http://127.0.0.1:${port}`,
      timeoutMs: 120_000,
      tokens: gatewayTokens,
    });
    const got: string[] = [];
    let following!: () => void;
    const positioned = new Promise<void>((r) => {
      following = r;
    });
    const controller = new AbortController();
    const reading = (async () => {
      for await (const item of follower.getResource('events', {
        query: { user_id: 'late-wake' },
        signal: controller.signal,
        idleTimeoutMs: 120_000,
      })) {
        const { type, content } = item as { type: string; content?: string };
        if (type === 'position') following();
        if (content) got.push(content);
      }
    })().catch(() => {});
    await positioned;
    holdReads = true;
    await store('late-wake', 'one'); // wakes the follower, whose read is then held
    await held;
    await store('late-wake', 'two'); // committed and notified while that read is held
    release();
    for (let i = 0; i < 60 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await reading;
    await follower.close();
    await lagging.close();
    expect(got).toEqual(['one', 'two']);
  });

  it('answers 503 with the error body, not an empty 200, when the database fails before the stream', async () => {
    const broken: Database = Object.create(db, {
      query: {
        value: async () => {
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        },
      },
    });
    const failing = await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent' }), db: broken });
    try {
      for (const url of ['/resource/events', '/resource/events?after=0']) {
        const res = await failing.inject({ url, headers: await asGateway({ accept: 'text/event-stream' }) });
        expect(res.statusCode, url).toBe(503);
        expect(res.json().error.code, url).toBe('service_unavailable');
      }
    } finally {
      await failing.close();
    }
  });
});
