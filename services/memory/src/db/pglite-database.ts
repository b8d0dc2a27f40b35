import { lockDirectory } from '@cortex/service-kit';
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database';
import { traceStatement } from './statement-span';

/**
 * Embedded, file-backed PostgreSQL for `pnpm start` with nothing but Node. It is one connection
 * in this process: we never put its socket server in front of it, and transactions must only use
 * their `tx` handle (awaiting the outer instance inside one would deadlock).
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;

  private constructor(
    private readonly db: PGlite,
    private readonly release: () => void,
  ) {}

  static async open(dataDir: string | undefined): Promise<PgliteDatabase> {
    // Its files belong to one process: a second memory on the same directory would corrupt them.
    const release = dataDir ? lockDirectory(dataDir, 'set PGLITE_DATA_DIR or DATABASE_URL') : () => {};
    try {
      const db = dataDir ? new PGlite(dataDir) : new PGlite();
      await db.waitReady;
      return new PgliteDatabase(db, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    const r = await traceStatement(sql, () => this.db.query<T>(sql, params));
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  }

  async exec(sql: string) {
    await traceStatement(sql, () => this.db.exec(sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction((t) =>
      fn({
        query: async <R>(sql: string, params?: unknown[]) => {
          const r = await traceStatement(sql, () => t.query<R>(sql, params));
          return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
        },
        exec: async (sql: string) => {
          await traceStatement(sql, () => t.exec(sql));
        },
      }),
    );
  }

  async listen(channel: string, onNotify: (payload: string) => void) {
    // In-process NOTIFY never drops while the process lives, so there is nothing to reconnect.
    const unlisten = await this.db.listen(channel, onNotify);
    return () => unlisten();
  }

  async close() {
    if (!this.db.closed) await this.db.close();
    this.release();
  }
}
