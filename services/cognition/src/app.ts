import { ServiceTokenSigner } from '@cortex/network-client';
import type { Clock } from '@cortex/resilience';
import {
  createServiceApp,
  createUpstream,
  mcpPaths,
  mcpTools,
  registerMcp,
  registerTools,
  resilienceMetrics,
  serveOpenApi,
  toolsDocument,
} from '@cortex/service-kit';
import type { CognitionEnv } from './env';
import { buildModelChain } from './models/build-chain';
import { analyzeConversation } from './tools/analyze-conversation';
import { getContext } from './tools/get-context';
import { searchHistory } from './tools/search-history';
import type { CognitionContext } from './tools/tool';

export interface CognitionAppOptions {
  env: CognitionEnv;
  defaultMetrics?: boolean;
  /** Drives the model backends' breakers and timeouts (tests use a fake one). */
  clock?: Clock;
}

export const cognitionTools = [getContext, analyzeConversation, searchHistory];

const MEMORY_CHECK_MS = 1500;

/** Builds the cognition service; never listens. */
export async function buildCognitionApp({ env, defaultMetrics, clock }: CognitionAppOptions) {
  const app = createServiceApp({
    service: 'cognition',
    logLevel: env.LOG_LEVEL,
    defaultMetrics: defaultMetrics ?? false,
    // Only the gateway calls cognition, and may use all of it.
    auth: {
      service: 'cognition',
      secrets: { gateway: env.serviceSecrets.gateway },
      permissions: { gateway: 'all' },
    },
  });
  for (const variable of env.defaultedSecrets) {
    app.log.warn({ variable }, 'service secret not set: using the development secret');
  }
  // Closed with the app by createUpstream.
  const memoryUpstream = createUpstream(app, {
    name: 'memory',
    urls: env.MEMORY_SERVICE_URL,
    config: env.resilience.memory,
    tokens: new ServiceTokenSigner({
      issuer: 'cognition',
      secret: env.serviceSecrets.cognition[0] as string,
    }),
  });
  const metricsFor = resilienceMetrics(app.metrics);
  const models = buildModelChain(env, { clock, eventsFor: (name) => metricsFor(`model:${name}`) });
  const ctx: CognitionContext = { memory: memoryUpstream.client, models, env };
  registerTools(app, cognitionTools, ctx);
  const mcp = mcpTools(cognitionTools, ctx);
  registerMcp(app, {
    name: 'cortex-cognition',
    version: '0.1.0',
    tools: mcp,
    mayCall: (request, tool) => request.mayUseTool?.(tool) ?? false,
  });
  // Authenticated like every other route here: it describes the wire format to the gateway.
  serveOpenApi(
    app,
    toolsDocument({
      service: 'cognition',
      version: '0.1.0',
      description:
        'Context, analysis and search over a user\'s inputs (contract: "Service wire format"). Served at /openapi.json to authenticated services; see docs/api.md.',
      tools: cognitionTools,
      paths: mcpPaths('the gateway may call every tool'),
    }),
  );
  // Without memory cognition still answers (with less), so memory is never critical here.
  // Bounded here, under the registry's own 2 s limit: a memory that hangs is "away" (warning) too,
  // rather than the registry's timed-out "unhealthy".
  app.health.add('memory', async (signal) => {
    const away = { status: 'warning' as const, reachable: false, error: 'timeout' };
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(MEMORY_CHECK_MS)]);
    const h = await Promise.race([
      memoryUpstream.health(bounded),
      new Promise<typeof away>((resolve) =>
        bounded.addEventListener('abort', () => resolve(away), { once: true }),
      ),
    ]);
    return h.status === 'unhealthy' ? { ...h, status: 'warning' as const, reachable: false } : h;
  });
  // Critical: with no backend able to answer, analysis cannot be done at all.
  app.health.add('models', () => models.health(), { critical: true });
  app.addHook('onClose', async () => models.close());
  return app;
}
