import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMemoryApp } from '@cortex/memory';
import { loadMemoryEnv } from '@cortex/memory/env';
import { ServiceClient, ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { freePort } from '@cortex/testing';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingJournal } from '../pending/journal';
import { Ingest, type NewInput } from './ingest';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const log = Fastify({ logger: false }).log;
const request = (id: string) => ({ id, log });
const input = (content: string, key?: string): NewInput => ({
  user_id: 'u',
  content,
  conversation_id: null,
  metadata: { n: content },
  ...(key === undefined ? {} : { key }),
});

async function setup(maxItems = 100) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ingest-'));
  const journal = await PendingJournal.open(dir, { maxItems, maxBytes: 1 << 20 });
  const memory = new ServiceClient({
    service: 'memory',
    urls: `http://127.0.0.1:${port}`,
    tokens: new ServiceTokenSigner({ issuer: 'gateway', secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET }),
  });
  const published: { userId: string; payload: { id: string } }[] = [];
  const ingest = new Ingest({
    memory,
    journal,
    hub: { publishPending: (userId, payload) => published.push({ userId, payload }) },
    feed: { whenFollowing: async () => {} },
    log,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => journal.close());
  cleanups.push(() => memory.close());
  cleanups.push(() => ingest.stop());
  const startMemory = async () => {
    const app = await buildMemoryApp({
      env: loadMemoryEnv({ LOG_LEVEL: 'silent', PGLITE_DATA_DIR: 'memory://' }),
    });
    await app.listen({ port, host: '127.0.0.1' });
    cleanups.push(() => app.close());
  };
  return { ingest, journal, memory, published, startMemory };
}

describe('Ingest', () => {
  it('journals while memory is away, shows the input pending once, and answers a retry with the first data', async () => {
    const { ingest, journal, published } = await setup();
    const first = await ingest.accept(input('one', 'k1'), request('r1'));
    expect(first).toMatchObject({ status: 'received_storage_pending', data: { content: 'one' } });
    expect(journal.size).toBe(1);
    expect(published).toEqual([
      {
        userId: 'u',
        payload: expect.objectContaining({ type: 'input', id: first.item_id, data: first.data }),
      },
    ]);
    const retry = await ingest.accept(input('one again', 'k1'), request('r2'));
    expect(retry).toEqual(first);
    expect(journal.size).toBe(1);
    expect(published).toHaveLength(1);
  });

  it('says not stored when the journal is full', async () => {
    const { ingest, published } = await setup(1);
    expect((await ingest.accept(input('one'), request('r1'))).status).toBe('received_storage_pending');
    const second = await ingest.accept(input('two'), request('r2'));
    expect(second).toMatchObject({ status: 'received_not_stored', data: { content: 'two' } });
    expect(published).toHaveLength(1);
  });

  it('stores directly when memory is there, and replays what was journalled once it is back', async () => {
    const { ingest, journal, memory, published, startMemory } = await setup();
    const pending = await ingest.accept(input('early'), request('r1'));
    expect(pending.status).toBe('received_storage_pending');
    await startMemory();
    ingest.start();
    for (let i = 0; i < 200 && journal.size > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(journal.size).toBe(0);
    const live = await ingest.accept(input('late', 'k2'), request('r2'));
    expect(live).toMatchObject({ status: 'received', data: { content: 'late', metadata: { n: 'late' } } });
    // Memory's `already_exists` answer carries what it kept, read with the gateway's one schema.
    const retry = await ingest.accept(input('late, edited', 'k2'), request('r3'));
    expect(retry).toEqual(live);
    const history = await memory.collect<{ id: string; content: string }>('history/u', {
      query: { limit: 10 },
    });
    expect(history.map((h) => [h.id, h.content]).sort()).toEqual(
      [
        [pending.item_id, 'early'],
        [live.item_id, 'late'],
      ].sort(),
    );
    expect(published).toHaveLength(1);
  });
});
