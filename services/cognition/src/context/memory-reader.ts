import { hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import { type Clock, TimeoutPolicy } from '@cortex/resilience';
import { z } from 'zod';

export const memoryItem = z.object({
  id: z.string(),
  user_id: z.string(),
  conversation_id: z.string().nullable(),
  content: z.string(),
  timestamp: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});
export type MemoryItem = z.infer<typeof memoryItem>;

/** Time kept back from the caller's deadline to answer with what we have. */
const ANSWER_MARGIN_MS = 300;

/** The caller's deadline less the answer margin: what a dependency call may use. */
export function budgetFor(deadline: number | undefined): number | undefined {
  return deadline === undefined ? undefined : deadline - ANSWER_MARGIN_MS;
}

export type MemoryProblem = 'memory_service_unavailable' | 'memory_service_error';

/** Memory being away is a normal condition here: it becomes a named problem, never a throw. */
export function memoryProblem(err: unknown): MemoryProblem {
  if (
    hasCode(err) &&
    [
      'connection',
      'timeout',
      'circuit_open',
      'service_unavailable',
      'bulkhead_full',
      'service_not_found',
    ].includes(err.code)
  ) {
    return 'memory_service_unavailable';
  }
  return 'memory_service_error';
}

/** No limit of its own: enforces the caller's deadline on a read, aborting it when it passes. */
const callerDeadline = new TimeoutPolicy({ timeoutMs: 0 });

export async function readItems(
  memory: ServiceClient,
  path: string,
  options: {
    limit: number;
    requestId: string;
    deadline: number | undefined;
    userId?: string;
    clock?: Clock;
  },
): Promise<{ items: MemoryItem[]; error?: MemoryProblem }> {
  // Leave time to answer with what we have: a degraded 200 beats the caller's own timeout. The
  // deadline bounds the connection (under the policy) and, through the signal, the streamed body.
  const deadline = budgetFor(options.deadline);
  const timeout = options.clock ? new TimeoutPolicy({ timeoutMs: 0, clock: options.clock }) : callerDeadline;
  const query: Record<string, string | number> = { limit: options.limit };
  if (options.userId) query.user_id = options.userId;
  try {
    const raw = await timeout.execute(
      (ctx) => memory.collect(path, { query, requestId: options.requestId, deadline, signal: ctx.signal }),
      undefined,
      deadline,
    );
    return { items: raw.map((r) => memoryItem.parse(r)) };
  } catch (err) {
    return { items: [], error: memoryProblem(err) };
  }
}
