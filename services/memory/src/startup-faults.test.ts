import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import { type ProxiedPostgres, proxiedPostgres } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildMemoryApp } from './app';
import type { Database } from './db/database';
import { PgliteDatabase } from './db/pglite-database';
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

const store = async (app: FastifyInstance, id: string) =>
  app.inject({
    method: 'POST',
    url: '/tool/store_input',
    headers: await asGateway(),
    payload: { user_id: 'start', input_data: { id, content: id } },
  });

const health = async (app: FastifyInstance) => {
  const res = await app.inject({ url: '/health' });
  return { status: res.statusCode, body: res.json() };
};

const envFor = (url: string | undefined) =>
  loadMemoryEnv({
    LOG_LEVEL: 'silent',
    DB_RETRY_MAX_MS: '200',
    DB_CONNECT_TIMEOUT_MS: '1000',
    ...(url ? { DATABASE_URL: url } : {}),
  });

describe.skipIf(!base)('memory starting without its database (postgres)', () => {
  let target: ProxiedPostgres;
  let direct: pg.Client;
  const apps: FastifyInstance[] = [];

  beforeEach(async () => {
    target = await proxiedPostgres(base as string);
    direct = new pg.Client({ connectionString: target.directUrl });
    await direct.connect();
  });
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await direct.end();
    await target.cleanup();
  });

  it('starts while the server is unreachable, answers 503, and migrates once it is back', async () => {
    await target.proxy.down();
    const app = await buildMemoryApp({ env: envFor(target.url) });
    apps.push(app);

    const h = await health(app);
    expect(h.status).toBe(503);
    expect(h.body.dependencies.database).toMatchObject({ status: 'unhealthy', error: 'unreachable' });
    const refused = await store(app, 'too-early');
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('service_unavailable');
    expect(refused.headers['retry-after']).toBeDefined();

    await target.proxy.up();
    await vi.waitFor(async () => expect((await health(app)).status).toBe(200), { timeout: 10_000 });
    expect((await store(app, 'on-time')).json().result.status).toBe('stored');
    const rows = await direct.query<{ id: string }>('SELECT id FROM inputs');
    expect(rows.rows.map((r) => r.id)).toEqual(['on-time']);
  });

  it('recreates a schema dropped before start', async () => {
    const first = await buildMemoryApp({ env: envFor(target.directUrl) });
    expect((await store(first, 'before-drop')).statusCode).toBe(200);
    await first.close();

    const schema = (await direct.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string;
    await direct.query(`DROP SCHEMA ${schema} CASCADE`);
    await direct.query(`CREATE SCHEMA ${schema}`);

    const second = await buildMemoryApp({ env: envFor(target.directUrl) });
    apps.push(second);
    expect((await health(second)).status).toBe(200);
    expect((await store(second, 'after-drop')).json().result.status).toBe('stored');
    const tables = await direct.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('inputs', 'schema_migrations')",
    );
    expect(tables.rows[0]?.n).toBe(2);
  });
});

describe('memory whose migrations fail (pglite)', () => {
  let db: Database;
  let app: FastifyInstance | undefined;
  beforeEach(async () => {
    db = await PgliteDatabase.open(undefined);
  });
  afterEach(async () => {
    await app?.close();
    await db.close();
  });

  it('reports migration_failed, answers 503, and retries until the schema can be made', async () => {
    // Something in the way of the first migration: `inputs` exists, but not as a table.
    await db.exec('CREATE VIEW inputs AS SELECT 1 AS x');
    app = await buildMemoryApp({ env: envFor(undefined), db });

    const h = await health(app);
    expect(h.status).toBe(503);
    expect(h.body.dependencies.database).toMatchObject({ status: 'unhealthy', error: 'migration_failed' });
    expect((await store(app, 'blocked')).statusCode).toBe(503);

    await db.exec('DROP VIEW inputs');
    const ready = app;
    await vi.waitFor(async () => expect((await health(ready)).status).toBe(200), { timeout: 10_000 });
    expect((await store(ready, 'unblocked')).json().result.status).toBe('stored');
  });
});
