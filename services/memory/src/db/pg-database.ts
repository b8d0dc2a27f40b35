import { BackoffLoop, type BackoffOptions, type Clock, systemClock, unrefTimer } from '@cortex/resilience';
import pg from 'pg';
import type { Database, PoolStats, Queryable, QueryResult } from './database';
import { classifyDbError, isConnectionFailure, POOL_EXHAUSTED } from './db-errors';

export interface PgOptions {
  connectionString: string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  /** Failures recovered from in the background (an idle pooled connection, the LISTEN connection). */
  onError?: (err: Error, context?: string) => void;
  /**
   * How often the LISTEN connection is asked a `SELECT 1`: a connection that died without a word
   * (a partition) would otherwise stay "listening" for hours, and followers would only poll.
   */
  listenCheckMs?: number;
  /** Backoff between attempts to reopen a lost LISTEN connection. */
  listenBackoff?: BackoffOptions;
  clock?: Clock;
  random?: () => number;
}

// bigint (int8) as JS number: our sequence values stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

// statement_timeout is enforced by the server, which never sees a query lost on the way (a hung
// network, a blackholing proxy); the client-side read timeout bounds those, a little later.
const CLIENT_TIMEOUT_MARGIN_MS = 1000;
const LISTEN_BACKOFF: BackoffOptions = { baseDelayMs: 250, maxDelayMs: 2000, jitter: 'full' };
const LISTEN_CHECK_MS = 10_000;

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
      query_timeout: options.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
      // A transaction whose client vanished mid-way (a partition: the server sees no close) would
      // otherwise hold the event lock until TCP gives up, minutes later, stalling every writer.
      idle_in_transaction_session_timeout: options.statementTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    });
    // An idle client losing its server emits here; without a listener the process would crash.
    this.pool.on('error', (err) => options.onError?.(err));
  }

  poolStats(): PoolStats {
    const { totalCount: total, idleCount: idle, waitingCount: waiting } = this.pool;
    return { max: this.options.maxConnections, total, idle, waiting };
  }

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    try {
      const r = await this.pool.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw this.explained(err);
    }
  }

  /**
   * pg-pool says "timeout exceeded when trying to connect" both when a new connection hangs (the
   * server is away) and when every connection is busy and the call waited its turn too long (the
   * server is only slow). The second is no outage: mark it so, or the availability gate would
   * take a healthy database out of use.
   */
  private explained(err: unknown): unknown {
    const full = this.pool.totalCount >= this.options.maxConnections && this.pool.idleCount === 0;
    if (full && err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message))
      return Object.assign(err, { code: POOL_EXHAUSTED });
    return err;
  }

  async exec(sql: string) {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((err: unknown) => {
      throw this.explained(err);
    });
    // A checked-out client has no error listener: a connection lost between two statements would
    // be an uncaught exception and take the process down. The next statement reports it instead.
    let broken: Error | boolean = false;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
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
      // A broken connection cannot roll back (the server does when it notices); waiting for the
      // attempt would only add a timeout. The client is destroyed rather than pooled again.
      if (isConnectionFailure(err)) broken = err as Error;
      else
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * LISTEN needs a dedicated connection that is never handed back to the pool. Notifications sent
   * while it is down are lost, so after (re)connecting we call `onReconnect` and the subscriber
   * re-reads. A server that cannot be reached at subscription time is not an error either: the
   * subscription comes up by itself later, announced the same way.
   */
  async listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void) {
    const clock = this.options.clock ?? systemClock;
    let client: pg.Client | undefined;
    const stopped = new AbortController();
    let checkTimer: unknown;
    const reconnects = new BackoffLoop({
      name: 'database.listen',
      backoff: this.options.listenBackoff ?? LISTEN_BACKOFF,
      clock,
      ...(this.options.random ? { random: this.options.random } : {}),
    });
    let reconnecting: Promise<void> | undefined;
    const discard = (c: pg.Client) => {
      c.removeAllListeners();
      c.on('error', () => {});
      void c.end().catch(() => {});
    };
    // Reopens in the background, backing off, until a connection listens again (or we stop).
    const reconnect = (err: unknown) => {
      if (stopped.signal.aborted || reconnecting) return;
      reconnects.failed(err);
      reconnecting = reconnects
        .run(() => connect(true), {
          signal: stopped.signal,
          onFailure: (e) =>
            this.options.onError?.(e as Error, 'LISTEN connection could not be opened; retrying'),
        })
        .finally(() => {
          reconnecting = undefined;
        });
    };
    const lost = (c: pg.Client, err: unknown) => {
      // Only the live connection's loss matters; a discarded attempt may still report its end.
      if (c !== client) return;
      client = undefined;
      clock.clearTimeout(checkTimer);
      discard(c);
      reconnect(err);
    };
    const check = (c: pg.Client) => {
      checkTimer = clock.setTimeout(() => {
        c.query('SELECT 1').then(
          () => {
            if (c === client) check(c);
          },
          (err: Error) => {
            if (c === client)
              this.options.onError?.(err, 'LISTEN connection stopped answering; reconnecting');
            lost(c, err);
          },
        );
      }, this.options.listenCheckMs ?? LISTEN_CHECK_MS);
      unrefTimer(checkTimer);
    };
    /** Opens the connection and listens; rejects when it cannot. */
    const connect = async (announce: boolean): Promise<void> => {
      if (stopped.signal.aborted) return;
      const c = new pg.Client({
        connectionString: this.options.connectionString,
        connectionTimeoutMillis: this.options.connectTimeoutMs,
        query_timeout: this.options.statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
        keepAlive: true,
      });
      c.on('notification', (msg) => {
        if (msg.channel === channel) onNotify(msg.payload ?? '');
      });
      c.on('error', (err) => {
        if (c === client) this.options.onError?.(err, 'LISTEN connection lost; reconnecting');
        lost(c, err);
      });
      c.on('end', () => lost(c, new Error('LISTEN connection ended')));
      try {
        await c.connect();
        await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        discard(c);
        throw err;
      }
      if (stopped.signal.aborted) return discard(c);
      client = c;
      check(c);
      if (announce) onReconnect?.();
    };
    try {
      await connect(false);
    } catch (err) {
      // Unreachable or full (too many connections) at start is no reason not to start.
      if (!['connection', 'busy'].includes(classifyDbError(err))) throw err;
      this.options.onError?.(err as Error, 'LISTEN connection could not be opened; retrying');
      reconnect(err);
    }
    const stop = async () => {
      stopped.abort();
      clock.clearTimeout(checkTimer);
      // An attempt in flight is not awaited: it sees `stopped` when it lands and lets go.
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => {});
        await c.end().catch(() => {});
      }
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
