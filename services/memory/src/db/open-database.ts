import { mkdirSync } from 'node:fs';
import type { Database } from './database';
import { PgDatabase } from './pg-database';
import { PgliteDatabase } from './pglite-database';

export interface OpenOptions {
  databaseUrl: string | undefined;
  /** Directory for the embedded database; `memory://` keeps it in RAM (tests). */
  dataDir: string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  maxConnections: number;
  onError?: (err: Error, context?: string) => void;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    return new PgDatabase({
      connectionString: options.databaseUrl,
      statementTimeoutMs: options.statementTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      maxConnections: options.maxConnections,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }
  if (options.dataDir === 'memory://') return PgliteDatabase.open(undefined);
  mkdirSync(options.dataDir, { recursive: true });
  return PgliteDatabase.open(options.dataDir);
}
