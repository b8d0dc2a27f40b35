import { z } from 'zod';

/** An item of memory's `events` feed, validated before it is trusted. */
export const feedItem = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('input'),
    seq: z.number().int(),
    user_id: z.string(),
    id: z.string(),
    conversation_id: z.string().nullable(),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    timestamp: z.string(),
  }),
  z.object({
    type: z.literal('task_failed'),
    seq: z.number().int(),
    user_id: z.string(),
    id: z.string(),
    task: z.string(),
    error: z.string(),
    backends_tried: z.array(z.string()),
    duration_ms: z.number(),
    timestamp: z.string(),
  }),
]);
export type FeedItem = z.infer<typeof feedItem>;

export interface InputData {
  content: string;
  conversation_id: string | null;
  timestamp: string;
  metadata: Record<string, unknown>;
}

/** The contract's `input` event. */
export function inputEvent(userId: string, itemId: string, data: InputData) {
  return { type: 'input', id: itemId, data, user_id: userId, timestamp: data.timestamp };
}

/** What the user's stream shows for a feed item. */
export function userEventOf(item: FeedItem) {
  if (item.type === 'input') {
    const { content, conversation_id, timestamp, metadata } = item;
    return inputEvent(item.user_id, item.id, { content, conversation_id, timestamp, metadata });
  }
  const { type, id, task, error, backends_tried, duration_ms, user_id, timestamp } = item;
  return { type, id, task, error, backends_tried, duration_ms, user_id, timestamp };
}
