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
import { InputWriter } from './store/input-writer';
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
  const memoryUpstream = createUpstream(app, {
    name: 'memory',
    urls: env.MEMORY_SERVICE_URL,
    timeoutMs: env.UPSTREAM_TIMEOUT_MS,
    // Journalled inputs wait for the breaker to let a probe through: keep that wait short. A
    // Retry-After from memory is not waited out inside a client's request: the input is journalled
    // (the replayer honours it), and a read answers 503 with the same Retry-After.
    defaults: { BREAKER_OPEN_MS: '2000', BREAKER_MAX_OPEN_MS: '10000', RETRY_MAX_RETRY_AFTER_MS: '0' },
  });
  const cognitionUpstream = createUpstream(app, {
    name: 'cognition',
    urls: env.COGNITION_SERVICE_URL,
    timeoutMs: env.UPSTREAM_TIMEOUT_MS,
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
      await memory.callTool(
        'store_input',
        { user_id: item.user_id, input_data: { id: item.item_id, ...item.data } },
        { signal },
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
  const writer = new InputWriter(memory, 200, env.STORE_BATCHES_IN_FLIGHT);
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
