import { type ProxiedPostgres, proxiedPostgres } from '@cortex/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { lockEventWriters } from '../store/event-order';
import { classifyDbError } from './db-errors';
import { PgDatabase } from './pg-database';

const base = process.env.DATABASE_URL;

describe.skipIf(!base)('PgDatabase against PostgreSQL (postgres)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function target(): Promise<ProxiedPostgres> {
    const t = await proxiedPostgres(base as string);
    cleanups.push(() => t.cleanup());
    return t;
  }
  function database(url: string, options: Partial<ConstructorParameters<typeof PgDatabase>[0]> = {}) {
    const db = new PgDatabase({
      connectionString: url,
      statementTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      maxConnections: 4,
      ...options,
    });
    cleanups.push(() => db.close());
    return db;
  }

  it('a writer cut off mid-transaction does not hold the event lock for long', async () => {
    const t = await target();
    const cutOff = database(t.url);
    const healthy = database(t.directUrl);
    const stuck = cutOff.transaction(async (tx) => {
      await lockEventWriters(tx);
      // The network goes silent: the server keeps the session open, idle in its transaction.
      t.proxy.set({ partition: true });
      await tx.query('SELECT 1');
    });
    await expect(stuck).rejects.toThrow();
    // The server ended that session after its idle-in-transaction timeout, so the lock is free.
    await expect(healthy.transaction((tx) => lockEventWriters(tx))).resolves.toBeUndefined();
  });

  it('a call that waited too long for a busy pool is "busy", not an outage', async () => {
    const db = database(base as string, {
      maxConnections: 2,
      connectTimeoutMs: 300,
      statementTimeoutMs: 5000,
    });
    const slow = [db.query('SELECT pg_sleep(1)'), db.query('SELECT pg_sleep(1)')];
    const err = await db.query('SELECT 1').catch((e: unknown) => e);
    expect(classifyDbError(err)).toBe('busy');
    await Promise.all(slow);
    await expect(db.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('notices a LISTEN connection that died without a word, and comes back', async () => {
    const t = await target();
    const db = database(t.url, { listenCheckMs: 100 });
    let reconnects = 0;
    await db.listen(
      'cortex_test_channel',
      () => {},
      () => reconnects++,
    );
    // The listening connection goes silent (no close ever reaches either side), then the network
    // heals for new connections: only asking the old one tells it is gone.
    t.proxy.set({ partition: true });
    await new Promise((r) => setTimeout(r, 150));
    t.proxy.set({});
    for (let i = 0; i < 100 && reconnects === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(reconnects).toBe(1);
  });
});
