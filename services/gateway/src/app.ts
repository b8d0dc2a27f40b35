import { createServiceApp, createUpstream } from '@cortex/service-kit';
import formbody from '@fastify/formbody';
import sse from '@fastify/sse';
import { authenticator } from './auth/authenticate';
import { TokenService } from './auth/tokens';
import { parseUsers } from './auth/users';
import type { GatewayEnv } from './env';
import { PendingJournal } from './pending/journal';
import { PendingReplayer } from './pending/replayer';
import { registerProtection } from './plugins/protection';
import { authRoutes } from './routes/auth';
import { cognitionRoutes } from './routes/cognition';
import { consoleRoutes } from './routes/console';
import { dashboardRoutes } from './routes/dashboard';
import { inputRoutes } from './routes/input';
import { readingRoutes } from './routes/reading';
import { streamRoutes } from './routes/stream';
import { HistoryCache } from './store/history-cache';
import { InputWriter, stored as storeInputResult } from './store/input-writer';
import { EventHub } from './stream/event-hub';
import { followFeed } from './stream/upstream-feed';

export interface GatewayAppOptions {
  env: GatewayEnv;
  defaultMetrics?: boolean;
}

/** Builds the gateway; never listens. */
export async function buildGatewayApp({ env, defaultMetrics }: GatewayAppOptions) {
  const app = createServiceApp({
    service: 'gateway',
    logLevel: env.LOG_LEVEL,
    defaultMetrics: defaultMetrics ?? false,
    // Deadlines are ours to set at the edge: clients speak HTTP, not our internal headers.
    trustDeadlineHeader: false,
  });
  if (env.usingDevSecret) app.log.warn('JWT_SECRET is not set: using the development secret');
  // Retries, timeouts and breakers per upstream: env.resilience, parsed at the edge (env.ts). The
  // memory breaker's short first open period keeps journalled inputs waiting little after memory
  // returns (see @cortex/resilience's upstream defaults).
  const memoryUpstream = createUpstream(app, {
    name: 'memory',
    urls: env.MEMORY_SERVICE_URL,
    config: env.resilience.memory,
  });
  const cognitionUpstream = createUpstream(app, {
    name: 'cognition',
    urls: env.COGNITION_SERVICE_URL,
    config: env.resilience.cognition,
  });
  const memory = memoryUpstream.client;
  const cognition = cognitionUpstream.client;
  const tokens = new TokenService(env.JWT_SECRET, env.TOKEN_TTL_S);
  const authenticate = authenticator(tokens);
  const hub = new EventHub(env.SSE_HEARTBEAT_MS);

  const journal = await PendingJournal.open(env.PENDING_STORE_DIR, {
    maxItems: env.PENDING_MAX_ITEMS,
    maxBytes: env.PENDING_MAX_BYTES,
  });
  if (journal.size > 0) app.log.info({ pending: journal.size }, 'pending inputs recovered; replaying');
  const feed = followFeed(memory, hub, app.log);
  const replayer = new PendingReplayer(journal, {
    log: app.log,
    store: async (item, signal) => {
      await feed.whenFollowing(signal);
      // Checked like the writer's: an answer that is not the contract's is not proof of storage
      // (data_error: the item stays journalled and is replayed later).
      await memory.callTool(
        'store_input',
        { user_id: item.user_id, input_data: { id: item.item_id, ...item.data } },
        { signal, schema: storeInputResult },
      );
    },
  }).start();

  await app.register(formbody);
  await registerProtection(app, {
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    maxEventLoopDelayMs: env.MAX_EVENT_LOOP_DELAY_MS,
  });
  await app.register(sse);
  await consoleRoutes(app);
  authRoutes(app, tokens, parseUsers(env.AUTH_USERS));
  const writer = new InputWriter(memory);
  inputRoutes(app, { writer, hub, journal, replayer, authenticate: authenticate() });
  streamRoutes(app, {
    hub,
    memory,
    authenticate: authenticate({ allowQueryToken: true }),
    maxPerUser: env.SSE_MAX_CONNECTIONS_PER_USER,
    maxBufferedBytes: env.SSE_MAX_BUFFERED_BYTES,
    retryMs: env.SSE_RETRY_MS,
  });
  readingRoutes(app, {
    memory,
    cognition,
    timeoutMs: cognitionUpstream.policy.config.timeoutMs,
    authenticate: authenticate(),
    historyCache: new HistoryCache({
      maxEntries: env.HISTORY_CACHE_MAX_USERS,
      maxBytes: env.HISTORY_CACHE_MAX_BYTES,
      maxAgeMs: env.HISTORY_CACHE_MAX_AGE_MS,
    }),
    journal,
    memoryEvents: memoryUpstream.onEvent,
    cognitionEvents: cognitionUpstream.onEvent,
  });
  dashboardRoutes(app, {
    memory,
    cognition,
    cognitionTimeoutMs: cognitionUpstream.policy.config.timeoutMs,
    authenticate: authenticate(),
  });
  cognitionRoutes(app, {
    cognition,
    timeoutMs: cognitionUpstream.policy.config.timeoutMs,
    authenticate: authenticate(),
  });

  // The gateway keeps accepting input with memory away, so neither dependency is critical.
  app.health.add('memory', (signal) => memoryUpstream.health(signal));
  app.health.add('cognition', (signal) => cognitionUpstream.health(signal));
  app.health.add('streams', () => ({
    status: 'healthy',
    connections: hub.size,
    feed: feed.connected ? 'following' : 'reconnecting',
  }));
  app.health.add('pending_store', () => ({
    status: journal.size >= env.PENDING_MAX_ITEMS * 0.9 ? 'warning' : 'healthy',
    items: journal.size,
    bytes: journal.sizeBytes,
    capacity: env.PENDING_MAX_ITEMS,
  }));

  app.addHook('preClose', async () => {
    hub.closeAll();
    await Promise.all([feed.close(), replayer.stop()]);
  });
  app.addHook('onClose', async () => journal.close());
  return app;
}
