import { type ProxiedPostgres, proxiedPostgres } from '@cortex/testing';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PgDatabase } from './pg-database';

const base = process.env.DATABASE_URL;

describe.skipIf(!base)('LISTEN through a failing network (postgres)', () => {
  let target: ProxiedPostgres;
  let db: PgDatabase;
  let background: string[];
  const channel = `listen_faults_${process.pid}_${Math.floor(Math.random() * 1e9)}`;

  /** NOTIFY sent straight to the server, not through the proxy. */
  async function notify(payload: string) {
    const c = new pg.Client({ connectionString: target.directUrl });
    await c.connect();
    try {
      await c.query('SELECT pg_notify($1, $2)', [channel, payload]);
    } finally {
      await c.end();
    }
  }

  beforeEach(async () => {
    target = await proxiedPostgres(base as string);
    background = [];
    db = new PgDatabase({
      onError: (err, context) => background.push(`${context}: ${err.message}`),
      connectionString: target.url,
      statementTimeoutMs: 2000,
      connectTimeoutMs: 1000,
      maxConnections: 2,
    });
  });
  afterEach(async () => {
    await db.close();
    await target.cleanup();
  });

  it('resumes notifications after the server was away, and says it reconnected', async () => {
    const got: string[] = [];
    let reconnects = 0;
    await db.listen(
      channel,
      (p) => got.push(p),
      () => reconnects++,
    );
    await notify('before');
    await vi.waitFor(() => expect(got).toContain('before'));

    await target.proxy.down();
    await notify('while-down'); // lost: the subscriber re-reads on reconnect instead
    await target.proxy.up();
    await vi.waitFor(() => expect(reconnects).toBe(1), { timeout: 10_000 });

    await notify('after');
    await vi.waitFor(() => expect(got).toContain('after'));
    expect(got).not.toContain('while-down');
    // Recovered in the background, and said so.
    expect(background.some((b) => b.startsWith('LISTEN connection'))).toBe(true);
  });

  it('subscribes while the server is unreachable and comes up by itself', async () => {
    await target.proxy.down();
    const got: string[] = [];
    let reconnects = 0;
    await db.listen(
      channel,
      (p) => got.push(p),
      () => reconnects++,
    );
    await target.proxy.up();
    await vi.waitFor(() => expect(reconnects).toBe(1), { timeout: 10_000 });
    await notify('late');
    await vi.waitFor(() => expect(got).toEqual(['late']));
  });

  it('stops cleanly while reconnecting', async () => {
    const stop = await db.listen(channel, () => {});
    await target.proxy.down();
    await stop();
    const accepted = target.proxy.connectionsAccepted;
    await target.proxy.up();
    // Give a stray retry timer (500 ms) the chance to show up; none may.
    await new Promise((r) => setTimeout(r, 700));
    expect(target.proxy.connectionsAccepted).toBe(accepted);
  });
});
