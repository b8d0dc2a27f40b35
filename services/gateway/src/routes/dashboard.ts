import { hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';

export interface DashboardDeps {
  memory: ServiceClient;
  cognition: ServiceClient;
  authenticate: preHandlerHookHandler;
}

/**
 * `GET /dashboard`: profile, recent history and context, fetched in parallel. A section whose
 * dependency fails comes back empty and is named in `errors`; the response still succeeds.
 */
export function dashboardRoutes(app: FastifyInstance, deps: DashboardDeps) {
  app.get('/dashboard', { preHandler: deps.authenticate }, async (request) => {
    const user = request.user;
    const errors: Record<string, string> = {};
    const section = async <T>(name: string, load: () => Promise<T>, empty: T): Promise<T> => {
      try {
        return await load();
      } catch (err) {
        errors[name] = hasCode(err) ? err.code : 'unknown';
        request.log.warn({ section: name, code: errors[name] }, 'dashboard section unavailable');
        return empty;
      }
    };
    const [history, context] = await Promise.all([
      section(
        'history',
        async () => {
          const items = await deps.memory.collect(`history/${encodeURIComponent(user.id)}`, {
            query: { limit: 10 },
            requestId: request.id,
          });
          return { items, count: items.length };
        },
        { items: [] as unknown[], count: 0 },
      ),
      section(
        'context',
        () =>
          deps.cognition.callTool('get_context', { user_id: user.id, limit: 5 }, { requestId: request.id }),
        { context: [] as unknown[], count: 0 },
      ),
    ]);
    return {
      profile: { user_id: user.id, name: user.name ?? null, email: user.email ?? null },
      history,
      context,
      errors,
    };
  });
}
