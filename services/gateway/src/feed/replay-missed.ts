import type { ServiceClient } from '@cortex/network-client';
import type { EventHub } from '../stream/event-hub';
import type { SseConnection } from '../stream/sse-connection';
import { userEventOf } from '../stream/user-events';
import { feedItem } from './feed-item';

const REPLAY_PAGE = 1000;

/**
 * Everything of the user's after `after`, page by page from memory's feed, written as it arrives
 * (waiting while the client is behind): a backlog of any length streams through, none skipped.
 */
export async function replayMissed(
  memory: ServiceClient,
  hub: EventHub,
  conn: SseConnection,
  after: number,
  requestId: string,
  signal: AbortSignal,
) {
  for (let from = after; ; ) {
    let events = 0;
    const page = memory.getResource('events', {
      query: { after: from, user_id: conn.userId, follow: 'false', limit: REPLAY_PAGE },
      requestId,
      signal,
    });
    for await (const raw of page) {
      const seq = (raw as { seq?: unknown })?.seq;
      if ((raw as { type?: unknown })?.type === 'position' || typeof seq !== 'number') continue;
      events++;
      from = seq;
      const parsed = feedItem.safeParse(raw);
      if (parsed.success && parsed.data.user_id === conn.userId)
        await hub.replay(conn, userEventOf(parsed.data), parsed.data.seq);
      if (!conn.isOpen) return;
    }
    if (events < REPLAY_PAGE) return;
  }
}
