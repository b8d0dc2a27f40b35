import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { type ProxiedPostgres, proxiedPostgres, testDatabases } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildMemoryApp } from './app';
import type { Database, Queryable } from './db/database';
import { PgDatabase } from './db/pg-database';
import { loadMemoryEnv } from './env';

const base = process.env.DATABASE_URL;

// Signed as the gateway signs its calls, with its development secret.
const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const asGateway = async (headers: Record<string, string> = {}) => ({
  ...headers,
  authorization: `Bearer ${await gatewayTokens.token('memory')}`,
});

const store = async (app: FastifyInstance, id: string, user = 'load') =>
  app.inject({
    method: 'POST',
    url: '/tool/store_input',
    headers: await asGateway(),
    payload: { arguments: { user_id: user, input_data: { id, content: `content of ${id}` } } },
  });

const health = async (app: FastifyInstance) => {
  const res = await app.inject({ url: '/health' });
  return { status: res.statusCode, body: res.json() };
};

/** A Database that counts the transactions that actually reach the server. */
function counting(inner: Database) {
  const counter = {
    transactions: 0,
    db: {
      kind: inner.kind,
      query: <T>(sql: string, params?: unknown[]) => inner.query<T>(sql, params),
      exec: (sql: string) => inner.exec(sql),
      transaction: <T>(fn: (tx: Queryable) => Promise<T>) => {
        counter.transactions++;
        return inner.transaction(fn);
      },
      listen: (c: string, n: (p: string) => void, r?: () => void) => inner.listen(c, n, r),
      close: () => inner.close(),
    } satisfies Database,
  };
  return counter;
}

describe.skipIf(!base)('memory with PostgreSQL failing under it (postgres)', () => {
  let target: ProxiedPostgres;
  let direct: pg.Client;
  let pgdb: PgDatabase;
  let reached: ReturnType<typeof counting>;
  let app: FastifyInstance;

  beforeEach(async () => {
    target = await proxiedPostgres(base as string);
    direct = new pg.Client({ connectionString: target.directUrl });
    await direct.connect();
    pgdb = new PgDatabase({
      connectionString: target.url,
      statementTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      maxConnections: 10,
    });
    reached = counting(pgdb);
    const env = loadMemoryEnv({ LOG_LEVEL: 'silent', DB_RETRY_MAX_MS: '200' });
    app = await buildMemoryApp({ env, db: reached.db });
  });
  afterEach(async () => {
    await app.close();
    await pgdb.close();
    await direct.end();
    await target.cleanup();
  });

  it('answers 503 from the gate while the server is stopped, recovers alone, loses nothing', async () => {
    const outcomes = new Map<string, number>();
    const count = (status: number) => [...outcomes.values()].filter((s) => s === status).length;
    let running = true;
    const workers = Array.from({ length: 16 }, async (_, w) => {
      for (let n = 0; running; n++) {
        const id = `w${w}-${n}`;
        const res = await store(app, id);
        outcomes.set(id, res.statusCode);
        if (res.statusCode === 503) {
          expect(res.json().error.code).toBe('service_unavailable');
          expect(res.headers['retry-after']).toBeDefined();
          await sleep(2); // a client backing off, not hammering
        }
      }
    });

    await vi.waitFor(() => expect(count(200)).toBeGreaterThanOrEqual(100), { timeout: 10_000 });
    await target.proxy.down();
    await vi.waitFor(async () =>
      expect((await health(app)).body.dependencies.database.error).toBe('unreachable'),
    );
    const down = await health(app);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unhealthy');

    // From here every answer is the gate's: hundreds of 503s, not one transaction tried.
    const reachedWhenDown = reached.transactions;
    const refusedWhenDown = count(503);
    await vi.waitFor(() => expect(count(503)).toBeGreaterThanOrEqual(refusedWhenDown + 200), {
      timeout: 10_000,
    });
    expect(reached.transactions).toBe(reachedWhenDown);
    expect((await health(app)).body.dependencies.database.fast_failures).toBeGreaterThan(0);

    const storedBeforeUp = count(200);
    await target.proxy.up();
    await vi.waitFor(() => expect(count(200)).toBeGreaterThanOrEqual(storedBeforeUp + 100), {
      timeout: 15_000,
    });
    running = false;
    await Promise.all(workers);
    expect((await health(app)).status).toBe(200);
    expect([...outcomes.values()].every((s) => s === 200 || s === 503)).toBe(true);

    // Everything acknowledged is there, once (id is the primary key).
    const rows = await direct.query<{ id: string }>("SELECT id FROM inputs WHERE user_id = 'load'");
    const present = new Set(rows.rows.map((r) => r.id));
    expect(rows.rows.length).toBe(present.size);
    const acknowledged = [...outcomes].filter(([, s]) => s === 200).map(([id]) => id);
    expect(acknowledged.filter((id) => !present.has(id))).toEqual([]);

    // The refused ones are safe to send again; afterwards each input exists exactly once.
    const refused = [...outcomes].filter(([, s]) => s === 503).map(([id]) => id);
    for (const id of refused) {
      const res = await store(app, id);
      expect(res.statusCode).toBe(200);
      expect(['stored', 'already_exists']).toContain(res.json().result.status);
    }
    const total = await direct.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM inputs WHERE user_id = 'load'",
    );
    expect(total.rows[0]?.n).toBe(outcomes.size);
  });

  it('answers 503, not 500, when the connection is reset in the middle of a query', async () => {
    expect((await store(app, 'locked', 'reset')).statusCode).toBe(200);
    // Hold the row so that the update is inside the server when the reset comes.
    await direct.query('BEGIN');
    await direct.query("SELECT * FROM inputs WHERE id = 'locked' FOR UPDATE");
    const update = app.inject({
      method: 'POST',
      url: '/tool/update_message',
      headers: await asGateway(),
      payload: { user_id: 'reset', message_id: 'locked', updates: { content: 'changed' } },
    });
    await vi.waitFor(async () => {
      // Statistics are snapshotted once per transaction; this one is still open.
      await direct.query('SELECT pg_stat_clear_snapshot()');
      const waiting = await direct.query(
        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE inputs%' AND pid <> pg_backend_pid()",
      );
      expect(waiting.rowCount).toBeGreaterThan(0);
    });
    target.proxy.set({ resetPeer: true });
    const res = await update;
    await direct.query('ROLLBACK');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('service_unavailable');
    expect(res.body).not.toMatch(/UPDATE|inputs|127\.0\.0\.1/);

    expect((await store(app, 'during-reset', 'reset')).statusCode).toBe(503);
    target.proxy.set({});
    await vi.waitFor(async () => expect((await store(app, 'after-reset', 'reset')).statusCode).toBe(200), {
      timeout: 10_000,
    });
  });

  it('bounds a blackholed database by its timeouts and answers 503', async () => {
    expect((await store(app, 'warm', 'hole')).statusCode).toBe(200);
    target.proxy.set({ blackhole: true });
    // Pooled connections hit the read timeout, new ones the connect timeout: either way a 503.
    const res = await store(app, 'swallowed', 'hole');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('service_unavailable');
    const h = await health(app);
    expect(h.status).toBe(503);
    expect(h.body.dependencies.database).toMatchObject({ status: 'unhealthy', error: 'unreachable' });

    target.proxy.set({});
    await vi.waitFor(async () => expect((await store(app, 'healed', 'hole')).statusCode).toBe(200), {
      timeout: 15_000,
    });
    expect((await health(app)).status).toBe(200);
  });
});

describe.each(testDatabases())('duplicate ids on $name', (target) => {
  let db: Database;
  let app: FastifyInstance;
  beforeAll(async () => {
    db = await target.open();
    app = await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent' }), db });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await target.cleanup();
  });

  it('stores a concurrently repeated id once; the rest are already_exists', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => store(app, 'same-id', 'dup')));
    const statuses = results.map((r) => r.json().result.status);
    expect(statuses.filter((s) => s === 'stored')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'already_exists')).toHaveLength(19);
    expect(new Set(results.map((r) => r.json().result.item_id))).toEqual(new Set(['same-id']));
    const again = await store(app, 'same-id', 'dup');
    expect(again.json().result).toMatchObject({ status: 'already_exists', item_id: 'same-id' });
    const n = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM inputs WHERE id = 'same-id'");
    expect(n.rows[0]?.n).toBe(1);
  });
});
