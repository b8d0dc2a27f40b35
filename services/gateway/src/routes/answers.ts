import { CortexError } from '@cortex/errors';
import { z } from 'zod';

/**
 * What memory and cognition may answer, as the contract states it. Their answers are checked like
 * any input: a wrong shape is the dependency's fault (502 `data_error`), never passed on to the
 * client. The routes that read the same answer (/history and /dashboard, /context and /dashboard)
 * share one schema here, so they cannot drift apart.
 *
 * Every schema that can name a user takes the requesting user: an answer about someone else is as
 * wrong as a malformed one, and is refused the same way, so that it is never shown.
 */

/** True when `value` is an object that names a user other than `userId`. */
function namesOtherUser(value: unknown, userId: string) {
  return typeof value === 'object' && value !== null && 'user_id' in value && value.user_id !== userId;
}

/** A list whose items (memory's stored inputs, or results built from them) are all the user's. */
const usersItems = (userId: string) =>
  z.array(z.unknown()).refine((items) => !items.some((item) => namesOtherUser(item, userId)));

/**
 * A stored input as /history shows it. Memory's items also carry `user_id` (checked: optional, so
 * that an item without one still reads) and `seq`; both are its own and are dropped.
 */
export const storedItem = z.object({
  id: z.string(),
  conversation_id: z.string().nullable(),
  content: z.string(),
  timestamp: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});
export type StoredItem = z.infer<typeof storedItem>;

/** Memory's `history/{user_id}` items, checked and reduced to the contract's fields. */
export function historyItems(raw: unknown[], userId: string): StoredItem[] {
  const items = z.array(storedItem).safeParse(raw);
  if (!items.success || raw.some((item) => namesOtherUser(item, userId)))
    throw new CortexError('data_error', 'memory answered history with an unexpected shape');
  return items.data;
}

/** Cognition's `get_context`, for `userId`: its `user_id` and its items' must be the user's. */
export const contextResult = (userId: string) =>
  z
    .object({
      context: usersItems(userId),
      user_id: z.literal(userId),
      query: z.string().nullable(),
      count: z.number(),
      error: z.string().optional(),
    })
    .passthrough();

/**
 * Cognition's `analyze_conversation` of `conversationId`. The result names no user, but an
 * analysis of another conversation could be of someone else's: it must be the one asked for.
 */
export const analysisResult = (conversationId: string) =>
  z
    .object({
      type: z.string(),
      results: z.object({}).passthrough(),
      conversation_id: z.literal(conversationId),
      error: z.string().optional(),
    })
    .passthrough();

/** Cognition's `search_history` for `userId`: results are memory's items, so they name their user. */
export const searchResult = (userId: string) =>
  z
    .object({
      results: usersItems(userId),
      count: z.number(),
      query: z.string(),
      error: z.string().optional(),
    })
    .passthrough();
