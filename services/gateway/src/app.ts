import { ServiceClient } from '@cortex/network-client';
import { createServiceApp } from '@cortex/service-kit';
import formbody from '@fastify/formbody';
import sse from '@fastify/sse';
import { authenticator } from './auth/authenticate';
import { TokenService } from './auth/tokens';
import { parseUsers } from './auth/users';
import type { GatewayEnv } from './env';
import { authRoutes } from './routes/auth';
import { inputRoutes } from './routes/input';
import { readingRoutes } from './routes/reading';
import { streamRoutes } from './routes/stream';
import { EventHub } from './stream/event-hub';

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
  });
  if (env.usingDevSecret) app.log.warn('JWT_SECRET is not set: using the development secret');
  const memory = new ServiceClient({
    service: 'memory',
    urls: env.MEMORY_SERVICE_URL,
    timeoutMs: env.UPSTREAM_TIMEOUT_MS,
  });
  const cognition = new ServiceClient({
    service: 'cognition',
    urls: env.COGNITION_SERVICE_URL,
    timeoutMs: env.UPSTREAM_TIMEOUT_MS,
  });
  const tokens = new TokenService(env.JWT_SECRET, env.TOKEN_TTL_S);
  const authenticate = authenticator(tokens);
  const hub = new EventHub(env.SSE_HEARTBEAT_MS);

  await app.register(formbody);
  await app.register(sse);
  authRoutes(app, tokens, parseUsers(env.AUTH_USERS));
  inputRoutes(app, { memory, hub, authenticate: authenticate() });
  streamRoutes(app, {
    hub,
    authenticate: authenticate({ allowQueryToken: true }),
    maxPerUser: env.SSE_MAX_CONNECTIONS_PER_USER,
    maxBufferedBytes: env.SSE_MAX_BUFFERED_BYTES,
    retryMs: env.SSE_RETRY_MS,
  });
  readingRoutes(app, { memory, cognition, authenticate: authenticate() });

  // The gateway keeps accepting input with memory away, so neither dependency is critical.
  app.health.add('memory', (signal) => memory.checkHealth(signal));
  app.health.add('cognition', (signal) => cognition.checkHealth(signal));
  app.health.add('streams', () => ({ status: 'healthy', connections: hub.size }));

  app.addHook('preClose', async () => hub.closeAll());
  app.addHook('onClose', async () => {
    await Promise.all([memory.close(), cognition.close()]);
  });
  return app;
}
