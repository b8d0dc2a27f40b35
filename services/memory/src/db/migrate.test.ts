import { testDatabases } from '@cortex/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from './database';
import { loadMigrations, migrate } from './migrate';

describe.each(testDatabases())('migrate ($name)', (target) => {
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
    await target.cleanup();
  });

  it('applies the pending migrations together or not at all, and each once', async () => {
    db = await target.open();
    const good = { version: '001_a', sql: 'CREATE TABLE mig_a (id int)' };
    const bad = { version: '002_b', sql: 'CREATE TABLE mig_b (id nosuchtype)' };
    await expect(migrate(db, [good, bad])).rejects.toThrow();
    // The failure of the second took the first with it: nothing half-applied, nothing recorded.
    const tables = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE tablename IN ('mig_a', 'mig_b')",
    );
    expect(tables.rows[0]?.n).toBe(0);
    expect(await migrate(db, [good])).toEqual(['001_a']);
    expect(await migrate(db, [good, { ...bad, sql: 'CREATE TABLE mig_b (id int)' }])).toEqual(['002_b']);
    expect(await migrate(db, [good])).toEqual([]);
  });
});

describe.each(testDatabases())('migration 006, trace context on the feed ($name)', (target) => {
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
    await target.cleanup();
  });

  it('adds the column in place, keeps older rows, and leaves the previous functions working', async () => {
    db = await target.open();
    const all = loadMigrations();
    await migrate(
      db,
      all.filter((m) => m.version < '006'),
    );
    const store = (fn: string, id: string, extra: unknown[] = []) =>
      (db as Database).query(
        `SELECT * FROM ${fn}($1, $2, $3, $4, $5, $6, $7::jsonb[], $8::timestamptz[]${extra.length ? ', $9::text[]' : ''})`,
        [1, 'test_channel', [id], ['u1'], [null], ['hello'], ['{}'], ['2026-01-01T00:00:00Z'], ...extra],
      );
    await store('memory_store_inputs', 'before');
    const file = async () =>
      (await (db as Database).query<{ f: string }>(`SELECT pg_relation_filenode('inputs')::text AS f`))
        .rows[0]?.f;
    const fileBefore = await file();

    expect(
      await migrate(
        db,
        all.filter((m) => m.version < '007'),
      ),
    ).toEqual(['006_feed_trace_context']);
    // No rewrite: the table is still the same file (a rewrite gives it a new one).
    expect(await file()).toBe(fileBefore);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    // An instance of the previous version, mid rolling deploy, still stores and reads the feed.
    await store('memory_store_inputs', 'old-writer');
    const old = await db.query<{ payload: string }>('SELECT * FROM memory_events_after(0, 10)');
    expect(old.rows).toHaveLength(2);
    expect(Object.keys(old.rows[0] ?? {})).not.toContain('traceparent');
    await store('memory_store_inputs_v2', 'traced', [[traceparent]]);
    await store('memory_store_inputs_v2', 'untraced', [[null]]);
    const rows = await db.query<{ id: string; traceparent: string | null }>(
      'SELECT id, traceparent FROM inputs ORDER BY seq',
    );
    expect(rows.rows).toEqual([
      { id: 'before', traceparent: null },
      { id: 'old-writer', traceparent: null },
      { id: 'traced', traceparent },
      { id: 'untraced', traceparent: null },
    ]);
    for (const read of ['memory_events_after_v2(0, 10)', "memory_user_events_after_v2('u1', 0, 10)"]) {
      const feed = await db.query<{ payload: string; traceparent: string | null }>(`SELECT * FROM ${read}`);
      expect(
        feed.rows.map((r) => [JSON.parse(r.payload).id, r.traceparent]),
        read,
      ).toEqual([
        ['before', null],
        ['old-writer', null],
        ['traced', traceparent],
        ['untraced', null],
      ]);
    }
  });
});
