import { randomBytes } from 'node:crypto';
import { openDatabase } from '@cortex/memory/database';
import pg from 'pg';

type Database = Awaited<ReturnType<typeof openDatabase>>;
const OPEN = { statementTimeoutMs: 5000, connectTimeoutMs: 2000, maxConnections: 10 };

export interface TestDatabase {
  name: string;
  url?: string | undefined;
  open(): Promise<Database>;
  /** Drops whatever the test created. */
  cleanup(): Promise<void>;
}

/** A PostgreSQL URL whose connections use their own fresh schema, so test files never collide. */
export async function isolatedSchemaUrl(
  baseUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/**
 * The databases a test runs against: always embedded PGlite, and the real server when
 * DATABASE_URL is set (CI sets it), each in isolation.
 */
export function testDatabases(): TestDatabase[] {
  const list: TestDatabase[] = [];
  const base = process.env.DATABASE_URL;
  if (base) {
    let drop: (() => Promise<void>) | undefined;
    const entry: TestDatabase = {
      name: 'postgres',
      async open() {
        const iso = await isolatedSchemaUrl(base);
        drop = iso.drop;
        entry.url = iso.url;
        return openDatabase({ ...OPEN, databaseUrl: iso.url, dataDir: 'memory://' });
      },
      cleanup: async () => drop?.(),
    };
    list.push(entry);
  }
  list.push({
    name: 'pglite',
    open: () => openDatabase({ ...OPEN, databaseUrl: undefined, dataDir: 'memory://' }),
    cleanup: async () => {},
  });
  return list;
}
