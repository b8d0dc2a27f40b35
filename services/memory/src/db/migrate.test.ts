import { testDatabases } from '@cortex/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from './database';
import { migrate } from './migrate';

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
