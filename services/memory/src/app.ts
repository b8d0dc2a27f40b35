import {
  createServiceApp,
  GroupCommitter,
  mcpTools,
  registerMcp,
  registerTools,
  serveOpenApi,
} from '@cortex/service-kit';
import sse from '@fastify/sse';
import { DatabaseGate } from './db/availability';
import type { Database } from './db/database';
import { classifyDbError, mapDbError } from './db/db-errors';
import { migrate } from './db/migrate';
import { openDatabase } from './db/open-database';
import { poolMetrics } from './db/pool-metrics';
import type { MemoryEnv } from './env';
import { FeedNotifier } from './feed/feed-notifier';
import { databaseHealth } from './health/database-health';
import { diskHealth } from './health/disk-health';
import { memoryDocument } from './openapi';
import { eventRoutes } from './routes/events';
import { resourceRoutes } from './routes/resources';
import { memoryPermissions } from './service-permissions';
import { insertBatch, type NewInput, type StoreOutcome } from './store/input-store';
import { DEFAULT_SEARCH_BOUNDS } from './store/search-store';
import { memoryTools } from './tools/message-tools';
import { searchTools } from './tools/search-tools';
import { taskTools } from './tools/task-tools';
import type { MemoryContext } from './tools/tool';

export interface MemoryAppOptions {
  env: MemoryEnv;
  /** Injected by tests that share one database between apps. */
  db?: Database;
  defaultMetrics?: boolean;
}

/** Builds the memory service (database opened; migrated now, or in the background once reachable); never listens. */
export async function buildMemoryApp({ env, db: given, defaultMetrics }: MemoryAppOptions) {
  const app = createServiceApp({
    service: 'memory',
    logLevel: env.LOG_LEVEL,
    defaultMetrics: defaultMetrics ?? false,
    bodyLimit: env.BODY_LIMIT_BYTES,
    auth: { service: 'memory', secrets: env.serviceSecrets, permissions: memoryPermissions },
  });
  for (const variable of env.defaultedSecrets) {
    app.log.warn({ variable }, 'service secret not set: using the development secret');
  }
  const opened =
    given ??
    (await openDatabase({
      databaseUrl: env.DATABASE_URL,
      dataDir: env.PGLITE_DATA_DIR,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      maxConnections: env.DB_POOL_MAX,
      onError: (err, context) =>
        app.log.warn(
          { err: { message: err.message, code: (err as { code?: unknown }).code } },
          context ?? 'idle database connection lost',
        ),
    }));
  // Migrations run through the gate: a database unreachable at start is retried in the background
  // while tools answer 503 and /health says why, instead of the process crash-looping.
  const db = new DatabaseGate(opened, {
    maxBackoffMs: env.DB_RETRY_MAX_MS,
    prepare: async (d) => {
      const applied = await migrate(d);
      if (applied.length > 0) app.log.info({ applied }, 'migrations applied');
    },
    onChange: (state, reason, err) => {
      if (state === 'up') app.log.info('database available');
      else app.log.warn({ state, reason, err: { message: (err as Error)?.message } }, 'database unavailable');
    },
  });
  await db.start();
  poolMetrics(app.metrics, opened);

  const write = (items: NewInput[]) => insertBatch(db, items);
  const committer = new GroupCommitter<NewInput, StoreOutcome>(
    env.GROUP_COMMIT === 'on'
      ? write
      : async (items) => (await Promise.all(items.map((i) => write([i])))).flat(),
    env.GROUP_COMMIT === 'on' ? env.GROUP_COMMIT_MAX_BATCH : Number.MAX_SAFE_INTEGER,
    // More writers only queue on the event lock; kept configurable for other machines.
    env.GROUP_COMMIT === 'on' ? env.GROUP_COMMIT_WRITERS : 1,
    {
      // One input PostgreSQL refuses must not fail the others it shared a transaction with.
      splitOnFailure: (err) => ['data', 'other'].includes(classifyDbError(err)),
      // And one transaction stays a size that commits well within the statement timeout.
      weigh: (i) => i.content.length + JSON.stringify(i.metadata).length,
      maxWeight: 8 * 1024 * 1024,
    },
  );
  const ctx: MemoryContext = {
    db,
    committer,
    search: { ...DEFAULT_SEARCH_BOUNDS, candidates: env.SEARCH_CANDIDATES, timeoutMs: env.SEARCH_TIMEOUT_MS },
  };

  await app.register(sse);
  const tools = [...memoryTools, ...taskTools, ...searchTools];
  registerTools(app, tools, ctx, mapDbError);
  // The same tools over MCP; each caller sees and calls only what its permission names.
  const mcp = mcpTools(tools, ctx, mapDbError);
  registerMcp(app, {
    name: 'cortex-memory',
    version: '0.1.0',
    tools: mcp,
    mayCall: (request, tool) => request.mayUseTool?.(tool) ?? false,
    bodyLimit: env.BODY_LIMIT_BYTES,
  });
  resourceRoutes(app, ctx);
  // Authenticated like every other route here: it describes the wire format to its callers.
  serveOpenApi(app, memoryDocument(tools));
  const notifier = new FeedNotifier();
  await notifier.start(db);
  const shutdown = new AbortController();
  eventRoutes(app, ctx, { notifier, pollMs: env.FEED_POLL_MS, shutdown: shutdown.signal });
  app.health.add('database', databaseHealth(db, { quotaBytes: env.STORAGE_QUOTA_BYTES }), { critical: true });
  // The embedded database's disk is ours to watch; a remote server's is not visible from here.
  if (env.DATABASE_URL === undefined && given === undefined && env.PGLITE_DATA_DIR !== 'memory://') {
    app.health.add(
      'disk',
      diskHealth({
        dir: env.PGLITE_DATA_DIR,
        minFreeBytes: env.DISK_WARN_FREE_BYTES,
        minFreeRatio: env.DISK_WARN_FREE_RATIO,
      }),
    );
  }
  // Followers of the feed end first, or closing would wait on their open streams.
  app.addHook('preClose', async () => {
    shutdown.abort();
    await notifier.close();
  });
  app.addHook('onClose', async () => {
    await committer.idle();
    if (given) db.stop();
    else await db.close();
  });
  return app;
}
