import { hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { StoredInput } from '../ingest/input-data';
import { contextOf, contextResult, historyItems } from './answers';

export interface DashboardDeps {
  memory: ServiceClient;
  cognition: ServiceClient;
  /** Cognition's attempt timeout, told to it as its deadline (as `/context` does). */
  cognitionTimeoutMs: number;
  authenticate: preHandlerHookHandler;
}

/**
 * `GET /dashboard`: profile, recent history and context, fetched in parallel. A section whose
 * dependency fails comes back empty and is named in `errors`; the response still succeeds. An
 * answer of the wrong shape, or about another user, is such a failure (`data_error`): the
 * sections are checked as /history and /context check them, with the same schemas.
 */
export function dashboardRoutes(app: FastifyInstance, deps: DashboardDeps) {
  app.get('/dashboard', { preHandler: deps.authenticate }, async (request) => {
    const user = request.user;
    const errors: Record<string, string> = {};
    // The empty stand-in need not have every field of a full answer (context's `user_id`, `query`).
    const section = async <T, E>(name: string, load: () => Promise<T>, empty: E): Promise<T | E> => {
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
          const raw = await deps.memory.collect(`history/${encodeURIComponent(user.id)}`, {
            query: { limit: 10 },
            requestId: request.id,
          });
          const items = historyItems(raw, user.id);
          return { items, count: items.length };
        },
        { items: [] as StoredInput[], count: 0 },
      ),
      section(
        'context',
        async () =>
          contextOf(
            user.id,
            await deps.cognition.callTool(
              'get_context',
              { user_id: user.id, limit: 5 },
              {
                requestId: request.id,
                deadline: deps.cognition.deadlineAfter(deps.cognitionTimeoutMs),
                schema: contextResult,
              },
            ),
          ),
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
