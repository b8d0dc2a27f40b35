import { ServiceClient } from '@cortex/network-client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMemoryApp } from '../app';
import type { Database } from '../db/database';
import { testDatabases } from '../db/test-databases';
import { loadMemoryEnv } from '../env';

describe.each(testDatabases())('the event feed on $name', (target) => {
  let app: FastifyInstance;
  let db: Database;
  let client: ServiceClient;
  const store = (user: string, content: string) =>
    app.inject({
      method: 'POST',
      url: '/tool/store_input',
      payload: { user_id: user, input_data: { content } },
    });

  beforeAll(async () => {
    db = await target.open();
    app = await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent', FEED_POLL_MS: '60000' }), db });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    client = new ServiceClient({ service: 'memory', urls: `http://127.0.0.1:${port}`, timeoutMs: 120_000 });
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
});
