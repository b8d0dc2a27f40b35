export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface PoolStats {
  max: number;
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
}

/**
 * What memory needs from PostgreSQL, implemented by a `pg` pool and by embedded PGlite. Both
 * speak the same SQL; differences (pooling, LISTEN connections, serialisation) stay behind this.
 */
export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Connections in use, idle and waited for, where there is a pool (PGlite has none). */
  poolStats?(): PoolStats;
  /** Runs `fn` in one transaction; the callback must use only `tx` (PGlite has one connection). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on `channel`; `onReconnect` fires after a lost listener came back, and
   * after a subscription made while the server was unreachable finally connected.
   */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onReconnect?: () => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
