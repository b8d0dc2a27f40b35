import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { testDatabases } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildMemoryApp } from './app';
import type { Database } from './db/database';
import { loadMemoryEnv } from './env';

function parseSse(body: string): unknown[] {
  return body
    .split('\n\n')
    .map((chunk) => chunk.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice(6)));
}

// The gateway's calls, signed as the gateway signs them with its development secret.
const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const asGateway = async (headers: Record<string, string> = {}) => ({
  ...headers,
  authorization: `Bearer ${await gatewayTokens.token('memory')}`,
});

describe.each(testDatabases())('memory service on $name', (target) => {
  let app: FastifyInstance;
  let db: Database;
  const tool = async (name: string, payload: unknown) =>
    app.inject({
      method: 'POST',
      url: `/tool/${name}`,
      payload: payload as object,
      headers: await asGateway(),
    });

  beforeAll(async () => {
    db = await target.open();
    app = await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent' }), db });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await target.cleanup();
  });

  it('stores an input and fills id and timestamp', async () => {
    const res = await tool('store_input', { arguments: { user_id: 'u1', input_data: { content: 'hello' } } });
    expect(res.statusCode).toBe(200);
    const { result } = res.json();
    expect(result).toMatchObject({ status: 'stored', user_id: 'u1' });
    expect(result.item_id).toMatch(/^[0-9a-f-]{36}$/);
    const got = await tool('get_message', { message_id: result.item_id, user_id: 'u1' });
    expect(got.json().result.message).toMatchObject({ content: 'hello', user_id: 'u1', metadata: {} });
    expect(Date.parse(got.json().result.message.timestamp)).not.toBeNaN();
  });

  it('is idempotent on id, and an id of another user is a conflict', async () => {
    const args = { user_id: 'u2', input_data: { id: 'fixed-1', content: 'once' } };
    const first = (await tool('store_input', args)).json().result;
    const stored = (await tool('get_message', { message_id: 'fixed-1' })).json().result.message;
    // A retry that differs (new timestamp, other content) is answered with what the first kept.
    const retry = {
      ...args,
      input_data: { ...args.input_data, content: 'twice', timestamp: '2020-01-01T00:00:00Z' },
    };
    const second = (await tool('store_input', retry)).json().result;
    expect(first.status).toBe('stored');
    expect(second).toMatchObject({ status: 'already_exists', item_id: 'fixed-1', seq: first.seq });
    expect(second.data).toEqual({
      content: 'once',
      conversation_id: null,
      timestamp: stored.timestamp,
      metadata: {},
    });
    const other = await tool('store_input', {
      user_id: 'intruder',
      input_data: { id: 'fixed-1', content: 'x' },
    });
    expect(other.statusCode).toBe(409);
    expect(other.json().error.code).toBe('conflict');
    const count = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM inputs WHERE id = 'fixed-1'");
    expect(count.rows[0]?.n).toBe(1);
  });

  it('writes concurrent calls in fewer transactions, each answered with its own seq', async () => {
    // The first write is held a moment, so the other calls arrive while it is in flight (with an
    // in-process database they could otherwise each find the writer free). A write is one
    // statement (memory_store_inputs), its own transaction.
    const query = db.query.bind(db);
    let writes = 0;
    const transactions = vi.spyOn(db, 'query').mockImplementation(async (sql: string, params?: unknown[]) => {
      if (sql.includes('memory_store_inputs')) {
        writes += 1;
        if (writes === 1) await new Promise((r) => setTimeout(r, 100));
      }
      return query(sql, params);
    });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        tool('store_input', { user_id: 'u3', input_data: { id: `c-${i}`, content: `n${i}` } }),
      ),
    );
    const seqs = results.map((r) => r.json().result.seq as number);
    expect(new Set(seqs).size).toBe(50);
    // Group commit: the first call went alone, the 49 that waited shared one transaction.
    expect(writes).toBe(2);
    transactions.mockRestore();
    const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM inputs WHERE user_id = 'u3'");
    expect(rows.rows[0]?.n).toBe(50);
  });

  it('stores a batch in one call, each item answered as store_input would', async () => {
    await tool('store_input', { user_id: 'owner', input_data: { id: 'taken', content: 'x' } });
    const res = await tool('store_inputs', {
      items: [
        { user_id: 'batcher', input_data: { id: 'b-1', content: 'one' } },
        { user_id: 'batcher', input_data: { id: 'b-1', content: 'one again' } },
        { user_id: 'batcher', input_data: { id: 'taken', content: 'clash' } },
        { user_id: 'batcher', input_data: { content: 'no id' } },
      ],
    });
    expect(res.statusCode).toBe(200);
    const { results } = res.json().result;
    expect(results.map((r: { status: string }) => r.status)).toEqual([
      'stored',
      'already_exists',
      'conflict',
      'stored',
    ]);
    expect(results[1].seq).toBe(results[0].seq);
    expect(results[1].data.content).toBe('one');
    const rows = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM inputs WHERE user_id = 'batcher'",
    );
    expect(rows.rows[0]?.n).toBe(2);
    const tooMany = await tool('store_inputs', {
      items: Array.from({ length: 501 }, (_, i) => ({ user_id: 'u', input_data: { content: `c${i}` } })),
    });
    expect(tooMany.statusCode).toBe(400);
  });

  it('takes only timestamps PostgreSQL holds as written, so a bad one is a 400, never a 500', async () => {
    const at = (timestamp: string) =>
      tool('store_input', { user_id: 'clock', input_data: { content: timestamp, timestamp } });
    for (const bad of ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '2024-01-01T00:00:00+16:00']) {
      const res = await at(bad);
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error.code, bad).toBe('invalid_request');
    }
    for (const good of ['0001-01-01T00:00:00Z', '2024-01-01T00:00:00+15:59', '9999-12-31T23:59:59.999Z']) {
      const res = await at(good);
      expect(res.statusCode, good).toBe(200);
      const id = res.json().result.item_id;
      const kept = (await tool('get_message', { message_id: id })).json().result.message.timestamp;
      expect(Date.parse(kept), good).toBe(Date.parse(good));
    }
  });

  it('rejects bad arguments with 400 and unknown tools with 404', async () => {
    const empty = await tool('store_input', { user_id: 'u1', input_data: { content: '' } });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('invalid_request');
    const nul = await tool('store_input', { user_id: 'u1', input_data: { content: 'a\u0000b' } });
    expect(nul.statusCode).toBe(400);
    const deepNul = await tool('store_input', {
      user_id: 'u1',
      input_data: { content: 'ok', metadata: { k: ['\u0000'] } },
    });
    expect(deepNul.statusCode).toBe(400);
    const missing = await tool('no_such_tool', {});
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('tool_not_found');
  });

  it('updates and deletes only the owner’s messages', async () => {
    const { item_id } = (await tool('store_input', { user_id: 'u4', input_data: { content: 'v1' } })).json()
      .result;
    const wrongUser = await tool('update_message', {
      user_id: 'u5',
      message_id: item_id,
      updates: { content: 'hack' },
    });
    expect(wrongUser.json().result.status).toBe('not_found');
    const ok = await tool('update_message', {
      user_id: 'u4',
      message_id: item_id,
      updates: { content: 'v2', metadata: { a: 1 } },
    });
    expect(ok.json().result.status).toBe('updated');
    const read = (await tool('get_message', { message_id: item_id })).json().result.message;
    expect(read).toMatchObject({ content: 'v2', metadata: { a: 1 } });
    expect((await tool('delete_message', { user_id: 'u4', message_id: item_id })).json().result.status).toBe(
      'deleted',
    );
    expect((await tool('get_message', { message_id: item_id })).json().result).toEqual({
      status: 'not_found',
      message: null,
    });
  });

  it('streams history newest first and a conversation oldest first, ending with end', async () => {
    for (const [i, ts] of [
      '2026-01-01T00:00:00Z',
      '2026-01-02T00:00:00Z',
      '2026-01-03T00:00:00Z',
    ].entries()) {
      await tool('store_input', {
        user_id: 'u6',
        input_data: { content: `m${i}`, conversation_id: 'conv-6', timestamp: ts },
      });
    }
    const history = await app.inject({
      url: '/resource/history/u6?limit=2',
      headers: await asGateway({ accept: 'text/event-stream' }),
    });
    expect(history.headers['content-type']).toContain('text/event-stream');
    const items = parseSse(history.body);
    expect(items.map((i) => (i as { content?: string }).content)).toEqual(['m2', 'm1', undefined]);
    expect(items.at(-1)).toEqual({ end: true });
    const conv = parseSse(
      (
        await app.inject({
          url: '/resource/conversation/conv-6',
          headers: await asGateway({ accept: 'text/event-stream' }),
        })
      ).body,
    );
    expect(conv.slice(0, 3).map((i) => (i as { content: string }).content)).toEqual(['m0', 'm1', 'm2']);
    // A window on a conversation is its latest part, still oldest first.
    const latest = parseSse(
      (
        await app.inject({
          url: '/resource/conversation/conv-6?limit=2',
          headers: await asGateway({ accept: 'text/event-stream' }),
        })
      ).body,
    );
    expect(latest.map((i) => (i as { content?: string }).content)).toEqual(['m1', 'm2', undefined]);
    expect((latest[0] as { timestamp: string }).timestamp).toBe('2026-01-02T00:00:00.000Z');
  });

  it('reports database health', async () => {
    const res = await app.inject({ url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'healthy',
      dependencies: { database: { status: 'healthy' } },
    });
  });
});
