import { ServiceTokenSigner } from '@cortex/network-client';
import { createServiceApp, createUpstream } from '@cortex/service-kit';
import formbody from '@fastify/formbody';
import sse from '@fastify/sse';
import { authenticator } from './auth/authenticate';
import { TokenService } from './auth/tokens';
import type { GatewayEnv } from './env';
import { followFeed } from './feed/follow-feed';
import { gatewayMetrics } from './gateway-metrics';
import { Ingest } from './ingest/ingest';
import { PendingJournal } from './pending/journal';
import { makeLimiter, registerProtection } from './plugins/protection';
import { HistoryCache } from './reading/history-cache';
import { authRoutes } from './routes/auth';
import { cognitionRoutes } from './routes/cognition';
import { consoleRoutes } from './routes/console';
import { dashboardRoutes } from './routes/dashboard';
import { docsRoutes } from './routes/docs';
import { inputRoutes } from './routes/input';
import { mcpRoutes } from './routes/mcp';
import { readingRoutes } from './routes/reading';
import { streamRoutes } from './routes/stream';
import { EventHub } from './stream/event-hub';

export interface GatewayAppOptions {
  env: GatewayEnv;
  defaultMetrics?: boolean;
}

/** Fastify takes a hop count at run time (proxy-addr), though its types leave numbers out. */
function trustProxyOption(
  value: boolean | number | string,
): boolean | string | ((a: string, i: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

/**
 * Node checks request timeouts on an interval (30 s by default), so a short REQUEST_TIMEOUT_MS
 * would only bite up to 30 s late: check at a quarter of it instead (at most every 30 s).
 */
function serverTimeouts(env: Pick<GatewayEnv, 'REQUEST_TIMEOUT_MS' | 'CONNECTION_TIMEOUT_MS'>) {
  const request = env.REQUEST_TIMEOUT_MS;
  return {
    requestTimeout: request,
    connectionTimeout: env.CONNECTION_TIMEOUT_MS,
    http: {
      connectionsCheckingInterval:
        request > 0 ? Math.min(30_000, Math.max(50, Math.floor(request / 4))) : 30_000,
      // Headers are part of the request: they may not take longer than all of it.
      headersTimeout: request > 0 ? Math.min(60_000, request) : 60_000,
    },
  };
}

/** Builds the gateway; never listens. */
export async function buildGatewayApp({ env, defaultMetrics }: GatewayAppOptions) {
  const app = createServiceApp({
    service: 'gateway',
    logLevel: env.LOG_LEVEL,
    defaultMetrics: defaultMetrics ?? false,
    // Deadlines are ours to set at the edge: clients speak HTTP, not our internal headers.
    trustDeadlineHeader: false,
    // Circuit states, instance addresses and queue sizes are for signed-in users: /health/details.
    publicHealth: 'status',
    // Anonymous /health is not rate limited: one round of dependency checks per second serves all.
    healthMaxAgeMs: 1000,
    fastify: { trustProxy: trustProxyOption(env.TRUST_PROXY), ...serverTimeouts(env) },
  });
  if (env.usingDevSecret) app.log.warn('JWT_SECRET is not set: using the development secret');
  for (const variable of env.defaultedSecrets) {
    app.log.warn({ variable }, 'service secret not set: using the development secret');
  }
  // One signer for both upstreams: it keeps one token per audience and renews it before expiry.
  const serviceTokens = new ServiceTokenSigner({
    issuer: 'gateway',
    secret: env.serviceSecrets.gateway[0] as string,
  });
  // Retries, timeouts and breakers per upstream: env.resilience, parsed at the edge (env.ts). The
  // memory breaker's short first open period keeps journalled inputs waiting little after memory
  // returns (see @cortex/resilience's upstream defaults).
  const memoryUpstream = createUpstream(app, {
    name: 'memory',
    urls: env.MEMORY_SERVICE_URL,
    config: env.resilience.memory,
    tokens: serviceTokens,
  });
  const cognitionUpstream = createUpstream(app, {
    name: 'cognition',
    urls: env.COGNITION_SERVICE_URL,
    config: env.resilience.cognition,
    tokens: serviceTokens,
  });
  const memory = memoryUpstream.client;
  const cognition = cognitionUpstream.client;
  const tokens = new TokenService(env.JWT_SECRET, env.TOKEN_TTL_S);
  const hub = new EventHub(env.SSE_HEARTBEAT_MS);

  const journal = await PendingJournal.open(env.PENDING_STORE_DIR, {
    maxItems: env.PENDING_MAX_ITEMS,
    maxBytes: env.PENDING_MAX_BYTES,
    log: app.log,
  });
  if (journal.size > 0) app.log.info({ pending: journal.size }, 'pending inputs recovered; replaying');
  const feed = followFeed(memory, hub, app.log);
  const ingest = new Ingest({
    memory,
    journal,
    hub,
    feed,
    log: app.log,
    storeBatchesInFlight: env.STORE_BATCHES_IN_FLIGHT,
    onEvent: memoryUpstream.onEvent,
  }).start();

  await app.register(formbody);
  const { limitUser } = await registerProtection(app, {
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    rateLimitPerAddressPerMinute: env.RATE_LIMIT_PER_ADDRESS_PER_MINUTE,
    maxEventLoopDelayMs: env.MAX_EVENT_LOOP_DELAY_MS,
  });
  const authenticate = authenticator(tokens, limitUser);
  await app.register(sse);
  await consoleRoutes(app);
  await docsRoutes(app);
  authRoutes(app, {
    tokens,
    users: env.users,
    limitLoginAddress: makeLimiter(app, {
      max: env.LOGIN_MAX_PER_ADDRESS,
      windowMs: env.LOGIN_WINDOW_S * 1000,
      what: `login attempts per ${env.LOGIN_WINDOW_S} s from one address`,
      key: (request) => `login-ip:${request.ip}`,
    }),
    limitLoginUser: makeLimiter(app, {
      max: env.LOGIN_MAX_PER_USERNAME,
      windowMs: env.LOGIN_WINDOW_S * 1000,
      what: `login attempts per ${env.LOGIN_WINDOW_S} s for one user`,
      key: (request) => request.loginKey,
    }),
    authenticate: authenticate(),
    maxSessionS: env.SESSION_MAX_S,
  });
  inputRoutes(app, { ingest, authenticate: authenticate() });
  streamRoutes(app, {
    hub,
    memory,
    authenticate: authenticate({ allowQueryToken: true }),
    maxPerUser: env.SSE_MAX_CONNECTIONS_PER_USER,
    maxTotal: env.SSE_MAX_CONNECTIONS,
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

  mcpRoutes(app, {
    memory,
    // The token only: each tool call is charged (per user, per address) by the REST route it is.
    authenticate: authenticator(tokens)(),
    limitUser,
    allowedHosts: env.MCP_ALLOWED_HOSTS,
    allowedOrigins: env.MCP_ALLOWED_ORIGINS,
  });

  // The gateway keeps accepting input with memory away, so neither dependency is critical.
  app.health.add('memory', (signal) => memoryUpstream.health(signal));
  app.health.add('cognition', (signal) => cognitionUpstream.health(signal));
  app.health.add('streams', () => ({
    status: 'healthy',
    connections: hub.size,
    feed: feed.connected ? 'following' : 'reconnecting',
  }));
  gatewayMetrics(app.metrics, { journal, hub, feed });
  app.health.add('pending_store', () => ({
    status: journal.size >= env.PENDING_MAX_ITEMS * 0.9 ? 'warning' : 'healthy',
    items: journal.size,
    bytes: journal.sizeBytes,
    capacity: env.PENDING_MAX_ITEMS,
  }));

  // What the open /health leaves out, for signed-in users (the console's health panel).
  app.get('/health/details', { preHandler: authenticate() }, async (_request, reply) => {
    // Fresh on every call (the open /health shares one a second): operators and tests read the
    // journal's depth and the circuits from here, and a signed-in user's polling is bounded by
    // the per-user rate limit.
    const { status, dependencies } = await app.health.run();
    reply.code(status === 'unhealthy' ? 503 : 200);
    return { status, service: 'gateway', timestamp: new Date().toISOString(), dependencies };
  });

  app.addHook('preClose', async () => {
    hub.closeAll();
    await Promise.all([feed.close(), ingest.stop()]);
  });
  app.addHook('onClose', async () => journal.close());
  return app;
}
