import type { ServiceClient } from '@cortex/network-client';
import {
  type Clock,
  inCallScope,
  isUnavailable,
  type Listener,
  type ResilienceEvent,
  withFallback,
} from '@cortex/resilience';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { StoredInput } from '../ingest/input-data';
import type { PendingJournal } from '../pending/journal';
import type { HistoryCache } from '../reading/history-cache';
import { type ContextResult, contextOf, contextResult, historyItems } from './answers';

export const historyQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) });
export const contextQuery = z.object({
  query: z.string().max(1000).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

export interface ReadingDeps {
  memory: ServiceClient;
  cognition: ServiceClient;
  /** Cognition gets this long to answer, and is told so, so it can degrade in time. */
  timeoutMs: number;
  authenticate: preHandlerHookHandler;
  /** Each user's last good history, served while memory is away. */
  historyCache: HistoryCache;
  /** Inputs memory has not stored yet: shown, marked `pending`, in a fallback history. */
  journal: Pick<PendingJournal, 'live'>;
  /** The upstreams' event listeners (metrics and logs): fallbacks are counted and logged there. */
  memoryEvents?: Listener<ResilienceEvent>;
  cognitionEvents?: Listener<ResilienceEvent>;
  clock?: Clock;
}

type HistoryItem = StoredInput & { pending?: true };

/** Newest first, as memory answers; items without a readable time go last. */
function byTimeDesc(a: HistoryItem, b: HistoryItem) {
  const ta = Date.parse(a.timestamp);
  const tb = Date.parse(b.timestamp);
  return (Number.isNaN(tb) ? -Infinity : tb) - (Number.isNaN(ta) ? -Infinity : ta);
}

export function readingRoutes(app: FastifyInstance, deps: ReadingDeps) {
  // While memory is away (circuit open, unreachable, timing out, 5xx): the user's last good
  // history, else nothing; a wrong answer from memory (data_error) is still a 502.
  const history = withFallback<StoredInput[], string>(undefined, {
    lastGood: { maxAgeMs: deps.historyCache.options.maxAgeMs, store: deps.historyCache },
    value: [],
    when: isUnavailable,
    clock: deps.clock,
  });
  if (deps.memoryEvents) history.events.on(deps.memoryEvents);

  // While cognition is away: an empty context, said to be a fallback (the design's answer).
  const context = withFallback<ContextResult, { user: string; query: string | null }>(undefined, {
    compute: (_err, _ctx, key) => ({
      context: [],
      user_id: key.user,
      query: key.query,
      count: 0,
      fallback: true,
    }),
    when: isUnavailable,
    clock: deps.clock,
  });
  if (deps.cognitionEvents) context.events.on(deps.cognitionEvents);

  app.get('/history', { preHandler: deps.authenticate }, async (request) => {
    const { limit } = historyQuery.parse(request.query);
    const user = request.user.id;
    // In the request's scope, so that the fallback's log line carries its id (the calls inside
    // open their own scopes; a scope is kept to outbound calls: on Node 20 one costs ~2 µs).
    const answer = await inCallScope({ requestId: request.id }, () =>
      history.resolve(
        async () => {
          const raw = await deps.memory.collect(`history/${encodeURIComponent(user)}`, {
            query: { limit },
            requestId: request.id,
          });
          // Memory's answer is checked like any input: a wrong shape is its fault (502), not the caller's.
          return historyItems(raw, user);
        },
        { key: user },
      ),
    );
    if (answer.fallback === undefined) return { items: answer.value, count: answer.value.length };
    // The cached copy plus what this gateway holds for the user and memory has not stored yet.
    const pending: HistoryItem[] = deps.journal
      .live()
      .filter((p) => p.user_id === user)
      .map((p): HistoryItem => ({ id: p.item_id, ...p.data, pending: true }))
      // The journal lists oldest first; newest first here, so that equal timestamps keep it.
      .reverse();
    const held = new Set(pending.map((p) => p.id));
    const items = [...pending, ...answer.value.filter((i) => !held.has(i.id))]
      .sort(byTimeDesc)
      .slice(0, limit);
    return { items, count: items.length, fallback: true };
  });

  app.get('/context', { preHandler: deps.authenticate }, async (request) => {
    const { query, limit } = contextQuery.parse(request.query);
    const user = request.user.id;
    const answer = await inCallScope({ requestId: request.id }, () =>
      context.resolve(
        async () =>
          contextOf(
            user,
            await deps.cognition.callTool(
              'get_context',
              { user_id: user, query: query ?? null, limit },
              {
                requestId: request.id,
                deadline: deps.cognition.deadlineAfter(deps.timeoutMs),
                schema: contextResult,
              },
            ),
          ),
        { key: { user, query: query ?? null } },
      ),
    );
    return answer.value;
  });
}
