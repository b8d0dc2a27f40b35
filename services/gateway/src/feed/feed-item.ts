import { z } from 'zod';
import { storedInput } from '../ingest/input-data';

/** An item of memory's `events` feed, validated before it is trusted. */
export const feedItem = z.discriminatedUnion('type', [
  storedInput.extend({
    type: z.literal('input'),
    seq: z.number().int(),
    user_id: z.string(),
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
