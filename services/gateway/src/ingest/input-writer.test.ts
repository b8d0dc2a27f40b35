import { once } from 'node:events';
import { createServer } from 'node:http';
import { buildMemoryApp } from '@cortex/memory';
import { loadMemoryEnv } from '@cortex/memory/env';
import { ServiceClient, ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputWriter } from './input-writer';

describe('InputWriter against a real memory service', () => {
  let memory: FastifyInstance;
  let client: ServiceClient;
  const calls: string[] = [];
  const data = (content: string) => ({
    content,
    conversation_id: null,
    timestamp: new Date().toISOString(),
    metadata: {},
  });

  beforeAll(async () => {
    memory = await buildMemoryApp({
      env: loadMemoryEnv({ LOG_LEVEL: 'silent', PGLITE_DATA_DIR: 'memory://' }),
    });
    memory.addHook('onRequest', async (request) => {
      if (request.url.startsWith('/tool/')) calls.push(request.url);
    });
    await memory.listen({ port: 0, host: '127.0.0.1' });
    const { port } = memory.server.address() as { port: number };
    client = new ServiceClient({
      service: 'memory',
      urls: `http://127.0.0.1:${port}`,
      tokens: new ServiceTokenSigner({
        issuer: 'gateway',
        secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
      }),
    });
  });
  afterAll(async () => {
    await client.close();
    await memory.close();
  });

  it('sends a lone input at once as store_input, and concurrent ones in batches', async () => {
    const writer = new InputWriter(client);
    await writer.store({
      user_id: 'w',
      item_id: 'lone',
      data: data('alone'),
      requestId: 'r0',
      log: memory.log,
    });
    expect(calls).toEqual(['/tool/store_input']);
    calls.length = 0;
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        writer.store({
          user_id: 'w',
          item_id: `item-${i}`,
          data: data(`n${i}`),
          requestId: `r${i}`,
          log: memory.log,
        }),
      ),
    );
    // The first goes alone; the rest waited for it and travelled together.
    expect(calls.length).toBeLessThan(10);
    expect(calls).toContain('/tool/store_inputs');
    const history = await client.collect<{ id: string }>('history/w', { query: { limit: 100 } });
    expect(new Set(history.map((h) => h.id)).size).toBe(61);
  });

  it("keeps batches of large inputs within memory's body limit", async () => {
    const writer = new InputWriter(client);
    const large = (i: number) => ({ ...data(`large ${i}`), metadata: { pad: 'p'.repeat(700_000) } });
    // Together 5.6 MB, beyond memory's 4 MiB limit as one call: they must travel in several.
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        writer.store({
          user_id: 'big',
          item_id: `large-${i}`,
          data: large(i),
          requestId: `l${i}`,
          log: memory.log,
        }),
      ),
    );
    const history = await client.collect<{ id: string }>('history/big', { query: { limit: 10 } });
    expect(history).toHaveLength(8);
  });

  it('rejects only the clashing input of a batch', async () => {
    const writer = new InputWriter(client);
    await writer.store({
      user_id: 'owner',
      item_id: 'mine',
      data: data('x'),
      requestId: 'a',
      log: memory.log,
    });
    const outcomes = await Promise.allSettled([
      writer.store({ user_id: 'w2', item_id: 'fresh-1', data: data('1'), requestId: 'b', log: memory.log }),
      writer.store({ user_id: 'w2', item_id: 'mine', data: data('2'), requestId: 'c', log: memory.log }),
      writer.store({ user_id: 'w2', item_id: 'fresh-2', data: data('3'), requestId: 'd', log: memory.log }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
  });

  it("resolves only on memory's word that it has the input, and refuses only the wrong one of a batch", async () => {
    // An answer of another shape (a broken or impostor memory) is no proof it was stored.
    const odd = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ result: { ok: true } }));
    });
    odd.listen(0, '127.0.0.1');
    await once(odd, 'listening');
    const oddClient = new ServiceClient({
      service: 'memory',
      urls: `http://127.0.0.1:${(odd.address() as { port: number }).port}`,
    });
    try {
      await expect(
        new InputWriter(oddClient).store({
          user_id: 'owner',
          item_id: 'odd-1',
          data: data('p'),
          requestId: 'e',
          log: memory.log,
        }),
      ).rejects.toMatchObject({ code: 'data_error' });
    } finally {
      await oddClient.close();
      odd.close();
    }
    // Memory refuses a whole batch as invalid when one input is: the rest are stored one by one.
    const writer = new InputWriter(client);
    const busy = writer.store({
      user_id: 'w3',
      item_id: 'first',
      data: data('f'),
      requestId: 'f',
      log: memory.log,
    });
    const outcomes = await Promise.allSettled([
      writer.store({ user_id: 'w3', item_id: 'good-1', data: data('1'), requestId: 'g', log: memory.log }),
      writer.store({
        user_id: 'w3',
        item_id: 'bad',
        data: { ...data('2'), timestamp: 'not a time' },
        requestId: 'h',
        log: memory.log,
      }),
      writer.store({ user_id: 'w3', item_id: 'good-2', data: data('3'), requestId: 'i', log: memory.log }),
    ]);
    await busy;
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid_request' });
  });
});
