import { createServiceApp, registerTools } from '@cortex/service-kit';
import sse from '@fastify/sse';
import type { Database } from './db/database';
import { mapDbError } from './db/db-errors';
import { migrate } from './db/migrate';
import { openDatabase } from './db/open-database';
import type { MemoryEnv } from './env';
import { resourceRoutes } from './routes/resources';
import { GroupCommitter } from './store/group-commit';
import { insertBatch, type NewInput, type StoreOutcome } from './store/input-store';
import { memoryTools } from './tools/message-tools';
import type { MemoryContext } from './tools/tool';

export interface MemoryAppOptions {
  env: MemoryEnv;
  /** Injected by tests that share one database between apps. */
  db?: Database;
  defaultMetrics?: boolean;
}

/** Builds the memory service (database opened and migrated); never listens. */
export async function buildMemoryApp({ env, db: given, defaultMetrics }: MemoryAppOptions) {
  const app = createServiceApp({
    service: 'memory',
    logLevel: env.LOG_LEVEL,
    defaultMetrics: defaultMetrics ?? false,
  });
  const db =
    given ??
    (await openDatabase({
      databaseUrl: env.DATABASE_URL,
      dataDir: env.PGLITE_DATA_DIR,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      maxConnections: env.DB_POOL_MAX,
      onError: (err) => app.log.warn({ err: { message: err.message } }, 'idle database connection lost'),
    }));
  const applied = await migrate(db);
  if (applied.length > 0) app.log.info({ applied }, 'migrations applied');

  const write = (items: NewInput[]) => insertBatch(db, items);
  const committer = new GroupCommitter<NewInput, StoreOutcome>(
    env.GROUP_COMMIT === 'on'
      ? write
      : async (items) => (await Promise.all(items.map((i) => write([i])))).flat(),
    env.GROUP_COMMIT === 'on' ? env.GROUP_COMMIT_MAX_BATCH : Number.MAX_SAFE_INTEGER,
  );
  const ctx: MemoryContext = { db, committer };

  await app.register(sse);
  registerTools(app, memoryTools, ctx, mapDbError);
  resourceRoutes(app, ctx);
  app.health.add(
    'database',
    async () => {
      try {
        await db.query('SELECT 1');
        return { status: 'healthy', kind: db.kind };
      } catch (err) {
        return { status: 'unhealthy', kind: db.kind, error: mapDbError(err).code };
      }
    },
    { critical: true },
  );
  app.addHook('onClose', async () => {
    await committer.idle();
    if (!given) await db.close();
  });
  return app;
}
