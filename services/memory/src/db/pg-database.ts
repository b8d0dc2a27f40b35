import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database';

export interface PgOptions {
  connectionString: string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  onError?: (err: Error) => void;
}

// bigint (int8) as JS number: our sequence values stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export class PgDatabase implements Database {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly listeners = new Set<() => Promise<void>>();

  constructor(private readonly options: PgOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections,
      connectionTimeoutMillis: options.connectTimeoutMs,
      statement_timeout: options.statementTimeoutMs,
      idleTimeoutMillis: 30_000,
    });
    // An idle client losing its server emits here; without a listener the process would crash.
    this.pool.on('error', (err) => options.onError?.(err));
  }

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await this.pool.query(sql, params);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async exec(sql: string) {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const tx: Queryable = {
        query: async <R>(sql: string, params?: unknown[]) => {
          const r = await client.query(sql, params);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
        exec: async (sql: string) => {
          await client.query(sql);
        },
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * LISTEN needs a dedicated connection that is never handed back to the pool. Notifications sent
   * while it is down are lost, so after reconnecting we call `onReconnect` and the subscriber re-reads.
   */
  async listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void) {
    let client: pg.Client | undefined;
    let stopped = false;
    let retryTimer: NodeJS.Timeout | undefined;
    const connect = async (isReconnect: boolean): Promise<void> => {
      if (stopped) return;
      const c = new pg.Client({
        connectionString: this.options.connectionString,
        connectionTimeoutMillis: this.options.connectTimeoutMs,
      });
      c.on('notification', (msg) => {
        if (msg.channel === channel) onNotify(msg.payload ?? '');
      });
      c.on('error', () => scheduleReconnect());
      c.on('end', () => scheduleReconnect());
      try {
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        client = c;
        if (isReconnect) onReconnect?.();
      } catch (err) {
        c.removeAllListeners('end');
        await c.end().catch(() => {});
        if (!isReconnect) throw err;
        scheduleReconnect();
      }
    };
    const scheduleReconnect = () => {
      if (stopped || retryTimer) return;
      client?.removeAllListeners();
      client?.on('error', () => {});
      client = undefined;
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        void connect(true);
      }, 500);
    };
    await connect(false);
    const stop = async () => {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = undefined;
      c?.removeAllListeners();
      c?.on('error', () => {});
      await c?.end().catch(() => {});
      this.listeners.delete(stop);
    };
    this.listeners.add(stop);
    return stop;
  }

  async close() {
    await Promise.all([...this.listeners].map((stop) => stop()));
    await this.pool.end();
  }
}
