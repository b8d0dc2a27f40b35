import { ServiceClient } from '@cortex/network-client';
import { createServiceApp, registerTools } from '@cortex/service-kit';
import type { CognitionEnv } from './env';
import { getContext } from './tools/get-context';
import type { CognitionContext } from './tools/tool';

export interface CognitionAppOptions {
  env: CognitionEnv;
  defaultMetrics?: boolean;
}

/** Builds the cognition service; never listens. */
export async function buildCognitionApp({ env, defaultMetrics }: CognitionAppOptions) {
  const app = createServiceApp({
    service: 'cognition',
    logLevel: env.LOG_LEVEL,
    defaultMetrics: defaultMetrics ?? false,
  });
  const memory = new ServiceClient({
    service: 'memory',
    urls: env.MEMORY_SERVICE_URL,
    timeoutMs: env.UPSTREAM_TIMEOUT_MS,
  });
  const ctx: CognitionContext = { memory, env };
  registerTools(app, [getContext], ctx);
  // Without memory cognition still answers (with less), so memory is never critical here.
  app.health.add('memory', async (signal) => {
    const h = await memory.checkHealth(signal);
    return h.status === 'unhealthy' ? { ...h, status: 'warning' as const, reachable: false } : h;
  });
  app.addHook('onClose', async () => memory.close());
  return app;
}
