import { type ResumableStream, type ServiceClient, ResumableStream as Stream } from '@cortex/network-client';
import { tracingOn } from '@cortex/telemetry';
import type { FastifyBaseLogger } from 'fastify';
import type { EventHub } from '../stream/event-hub';
import { userEventOf } from '../stream/user-events';
import { deliverTraced } from './feed-delivery-span';
import { feedItem } from './feed-item';

/**
 * The gateway's one subscription to memory's event feed. Every replica keeps its own, so an input
 * received by any replica reaches the user's streams on every replica. After a break it resumes
 * from the last seq it saw: nothing is skipped, nothing repeated.
 */
export interface Feed {
  /**
   * True once the first position is known. Anything stored before then could get a seq at or
   * below that position and never be delivered, so the replayer waits for it. (A live input in
   * the first milliseconds after start shares that window: documented in docs/design.md.)
   */
  readonly following: boolean;
  whenFollowing(signal: AbortSignal): Promise<void>;
  readonly connected: boolean;
  close(): Promise<void>;
}

export function followFeed(memory: ServiceClient, hub: EventHub, log: FastifyBaseLogger): Feed {
  let invalid = 0;
  let following = false;
  let waiters: (() => void)[] = [];
  const stream: ResumableStream = new Stream(memory, {
    path: 'events',
    idleTimeoutMs: 30_000,
    onItem(item) {
      if ((item as { type?: unknown })?.type === 'position') {
        if (!following) {
          following = true;
          for (const w of waiters.splice(0)) w();
        }
        return;
      }
      // Most stored events are for users with no stream on this replica (every replica sees every
      // user's events): those are only remembered, not validated and shaped for nobody.
      const { user_id, id } = item as { user_id?: unknown; id?: unknown };
      if (typeof user_id === 'string' && typeof id === 'string' && hub.count(user_id) === 0) {
        hub.noteStored(id);
        return;
      }
      const parsed = feedItem.safeParse(item);
      if (!parsed.success) {
        if (invalid++ % 100 === 0) log.warn({ invalid }, 'ignoring malformed feed item');
        return;
      }
      const event = parsed.data;
      // The raw item's traceparent is read only with tracing on (the schema drops it, so it can
      // never reach a user's stream); with it off, this is one boolean test.
      if (tracingOn())
        deliverTraced(event, (item as { traceparent?: unknown }).traceparent, hub.count(event.user_id), () =>
          hub.publishStored(event.user_id, userEventOf(event), event.seq),
        );
      else hub.publishStored(event.user_id, userEventOf(event), event.seq);
    },
    onConnected: () => log.info('following memory event feed'),
    onBreak(err, attempt) {
      const code = (err as { code?: string })?.code ?? 'ended';
      if (attempt === 1 || attempt % 20 === 0)
        log.warn({ code, attempt }, 'memory event feed interrupted; resuming');
    },
  }).start();
  return {
    get following() {
      return following;
    },
    get connected() {
      return stream.connected;
    },
    whenFollowing(signal) {
      if (following) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          waiters = waiters.filter((w) => w !== done);
          reject(signal.reason);
        };
        const done = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        waiters.push(done);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    close: () => stream.close(),
  };
}
