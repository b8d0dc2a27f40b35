import type { FeedItem } from '../feed/feed-item';
import type { InputData } from '../ingest/input-data';

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
