import { CortexError } from '@cortex/errors';
import { z } from 'zod';
import { type StoredInput, storedInput } from '../ingest/input-data';

/**
 * What memory and cognition may answer, as the contract states it. Their answers are checked like
 * any input: a wrong shape is the dependency's fault (502 `data_error`), never passed on to the
 * client. The routes that read the same answer (/history and /dashboard, /context and /dashboard)
 * share one schema here, so they cannot drift apart.
 *
 * Every answer that can name a user is checked against the requesting user: an answer about someone
 * else is as wrong as a malformed one, and is refused the same way, so that it is never shown.
 */

/** True when `value` is an object that names a user other than `userId`. */
function namesOtherUser(value: unknown, userId: string) {
  return typeof value === 'object' && value !== null && 'user_id' in value && value.user_id !== userId;
}

/**
 * Memory's `history/{user_id}` items, checked and reduced to the contract's fields. Memory's items
 * also carry `user_id` (checked: optional, so that an item without one still reads) and `seq`; both
 * are its own and are dropped.
 */
export function historyItems(raw: unknown[], userId: string): StoredInput[] {
  const items = z.array(storedInput).safeParse(raw);
  if (!items.success || raw.some((item) => namesOtherUser(item, userId)))
    throw new CortexError('data_error', 'memory answered history with an unexpected shape');
  return items.data;
}

// The schemas below are built once, and who an answer is about is checked after them: zod compiles a
// schema on its first parse, so one built per request (to hold the user) cost its compilation on every
// request (measured: a GET /search cost the gateway 3.05 ms of CPU before, 2.60 after).

/** An answer that is about someone else, refused as a malformed one is (502 `data_error`). */
function notTheirs(service: string, tool: string): CortexError {
  return new CortexError('data_error', `${service} answered ${tool} with an unexpected shape`);
}

/** Cognition's `get_context`. */
export const contextResult = z
  .object({
    context: z.array(z.unknown()),
    user_id: z.string(),
    query: z.string().nullable(),
    count: z.number(),
    error: z.string().optional(),
  })
  .passthrough();
export type ContextResult = z.infer<typeof contextResult>;

/** `answer` if it is `userId`'s context: its `user_id` and its items' must be the user's. */
export function contextOf(userId: string, answer: ContextResult): ContextResult {
  if (answer.user_id !== userId || answer.context.some((item) => namesOtherUser(item, userId)))
    throw notTheirs('cognition', 'get_context');
  return answer;
}

/** Cognition's `analyze_conversation`. */
export const analysisResult = z
  .object({
    type: z.string(),
    results: z.object({}).passthrough(),
    conversation_id: z.string(),
    error: z.string().optional(),
  })
  .passthrough();

/**
 * `answer` if it is the analysis of `conversationId`. It names no user, but an analysis of another
 * conversation could be of someone else's: it must be the one asked for.
 */
export function analysisOf(conversationId: string, answer: z.infer<typeof analysisResult>) {
  if (answer.conversation_id !== conversationId) throw notTheirs('cognition', 'analyze_conversation');
  return answer;
}

/** Cognition's `search_history`. */
export const searchResult = z
  .object({
    results: z.array(z.unknown()),
    count: z.number(),
    query: z.string(),
    error: z.string().optional(),
  })
  .passthrough();

/** `answer` if its results, memory's items, all name `userId`. */
export function searchOf(userId: string, answer: z.infer<typeof searchResult>) {
  if (answer.results.some((item) => namesOtherUser(item, userId)))
    throw notTheirs('cognition', 'search_history');
  return answer;
}
