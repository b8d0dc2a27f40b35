import { FakeClock, testDatabases } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMemoryApp } from '../app';
import { DatabaseGate } from '../db/availability';
import type { Database } from '../db/database';
import { loadMemoryEnv } from '../env';
import { databaseHealth } from './database-health';

const check = (gate: DatabaseGate, quotaBytes?: number) =>
  databaseHealth(gate, { quotaBytes })(AbortSignal.timeout(5000));

describe.each(testDatabases())('database health on $name', (target) => {
  let db: Database;
  let gate: DatabaseGate;
  beforeAll(async () => {
    db = await target.open();
    gate = new DatabaseGate(db);
    await gate.start();
  });
  afterAll(async () => {
    gate.stop();
    await db.close();
    await target.cleanup();
  });

  it('measures storage and has no opinion on it without a quota', async () => {
    const h = await check(gate);
    expect(h).toMatchObject({ status: 'healthy', kind: db.kind });
    expect((h.storage as { used_bytes: number }).used_bytes).toBeGreaterThan(0);
  });

  it('is healthy below 90% of the quota and warns from 90%', async () => {
    const used = ((await check(gate)).storage as { used_bytes: number }).used_bytes;
    expect((await check(gate, used * 10)).status).toBe('healthy');
    const near = await check(gate, Math.ceil(used / 0.95));
    expect(near).toMatchObject({ status: 'warning', warning: 'storage_near_quota' });
    expect((near.storage as { used_ratio: number }).used_ratio).toBeGreaterThanOrEqual(0.9);
    expect((await check(gate, 1)).status).toBe('warning');
  });

  it('measures the size at most once per interval, however many checks ask', async () => {
    let sizeQueries = 0;
    const counting = Object.create(gate) as DatabaseGate;
    counting.query = ((sql: string, params?: unknown[]) => {
      if (sql.includes('pg_database_size')) sizeQueries++;
      return gate.query(sql, params);
    }) as DatabaseGate['query'];
    const clock = new FakeClock(0);
    const health = databaseHealth(counting, { sizeMaxAgeMs: 30_000, clock });
    const burst = await Promise.all(Array.from({ length: 20 }, () => health(AbortSignal.timeout(5000))));
    expect(burst.every((h) => h.status === 'healthy')).toBe(true);
    clock.advance(29_999);
    await health(AbortSignal.timeout(5000));
    expect(sizeQueries).toBe(1);
    clock.advance(1);
    expect(await health(AbortSignal.timeout(5000))).toMatchObject({ status: 'healthy' });
    expect(sizeQueries).toBe(2);
  });

  it('is unhealthy while the gate holds the database away', async () => {
    const closed = new DatabaseGate(db);
    closed.stop();
    expect(await check(closed)).toMatchObject({ status: 'unhealthy', state: 'closed' });
  });

  it('answers 200 with warning on /health when storage is near the quota', async () => {
    const app = await buildMemoryApp({
      env: loadMemoryEnv({ LOG_LEVEL: 'silent', STORAGE_QUOTA_BYTES: '1000' }),
      db,
    });
    try {
      const res = await app.inject({ url: '/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        status: 'warning',
        dependencies: { database: { status: 'warning', storage: { quota_bytes: 1000 } } },
      });
    } finally {
      await app.close();
    }
  });
});
