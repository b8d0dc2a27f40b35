import { toErrorBody } from '@cortex/errors';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { mapDbError } from '../db/db-errors';
import type { FeedNotifier } from '../feed/feed-notifier';
import { eventsAfter, type FeedEvent, headSeq } from '../store/feed-store';
import { userId } from '../tools/input-schemas';
import type { MemoryContext } from '../tools/tool';
import { dataFrame, sseWriter } from './sse-writer';

export const eventsQuery = z.object({
  /** Resume after this seq; absent means "from now". Last-Event-ID is honoured too. */
  after: z.coerce.number().int().min(0).optional(),
  user_id: userId.optional(),
  /** false: send what exists after `after`, then `{end: true}` (a client's catch-up). */
  follow: z.enum(['true', 'false']).default('true'),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
});

const PAGE = 500;

/**
 * `{type, seq, user_id, traceparent?, ...payload}`: the payload is a JSON object as PostgreSQL
 * wrote it, spliced in after the envelope fields rather than parsed and serialised again (the feed
 * is memory's hottest path; its keys never collide with the envelope's). `traceparent` is there
 * only for an input stored with tracing on: the span that stored it, for the gateway's delivery
 * span to link to (gateways only; it never reaches a user's stream).
 */
function frame(e: FeedEvent) {
  let head = `{"type":"${e.type}","seq":${e.seq},"user_id":${JSON.stringify(e.user_id)}`;
  if (e.traceparent !== null) head += `,"traceparent":${JSON.stringify(e.traceparent)}`;
  const rest = e.payload.length > 2 ? `,${e.payload.slice(1)}` : '}';
  return `id: ${e.seq}\ndata: ${head}${rest}\n\n`;
}

/**
 * `GET /resource/events`: stored events of every user (or one) in commit order, each with its seq
 * as SSE id. Gateways keep one following subscription each and resume by seq after any break.
 */
export function eventRoutes(
  app: FastifyInstance,
  ctx: MemoryContext,
  feed: { notifier: FeedNotifier; pollMs: number; shutdown: AbortSignal },
) {
  app.get('/resource/events', { sse: { kind: 'only', heartbeat: false } }, async (request, reply) => {
    const q = eventsQuery.parse(request.query);
    const lastEventId = request.headers['last-event-id'];
    const fromHeader =
      typeof lastEventId === 'string' && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
    const out = sseWriter(reply, feed.shutdown);
    const closed = { signal: out.signal };
    const write = out.write;
    try {
      // Asked before the headers go out, so a database outage is a plain 503 the caller's breaker
      // counts, rather than a 200 followed by an in-band error.
      let last = q.after ?? fromHeader ?? (await headSeq(ctx.db));
      if (q.after !== undefined || fromHeader !== undefined) await ctx.db.query('SELECT 1');
      out.start();
      // The starting position first, so that a follower that sees no event before a break still
      // resumes from here rather than from a later head.
      await write(`id: ${last}\ndata: ${JSON.stringify({ type: 'position', seq: last })}\n\n`);
      let sent = 0;
      while (!closed.signal.aborted) {
        // `limit` bounds a catch-up read only: a follower's stream has no end.
        const want = q.follow === 'false' ? Math.min(PAGE, q.limit - sent) : PAGE;
        // Taken before the read: a commit the read does not see, notified while it runs, must
        // still wake the wait below rather than be lost to it.
        const epoch = feed.notifier.epoch;
        const rows = await eventsAfter(ctx.db, last, q.user_id, want);
        if (rows.length > 0) {
          // One write per page, not per event: the feed is the hottest socket memory has.
          await write(rows.map(frame).join(''));
          sent += rows.length;
          last = (rows.at(-1) as FeedEvent).seq;
        }
        if (q.follow === 'false') {
          if (rows.length === want && sent < q.limit) continue;
          await write(`data: ${JSON.stringify({ end: true, last_seq: last })}\n\n`);
          break;
        }
        if (rows.length === want) continue;
        const notified = await feed.notifier.wait(feed.pollMs, closed.signal, epoch);
        // A comment line on an idle feed keeps proxies from timing it out and reveals dead peers.
        if (!notified) await write(': ping\n\n');
      }
    } catch (err) {
      const mapped = mapDbError(err);
      request.log.warn({ code: mapped.code }, 'event feed failed');
      // Before the headers, the error handler answers (a 503 the caller's breaker counts).
      if (!reply.raw.headersSent) throw mapped;
      await write(
        dataFrame(toErrorBody({ code: mapped.code, message: mapped.message, requestId: request.id })),
      );
    } finally {
      out.end();
    }
  });
}
