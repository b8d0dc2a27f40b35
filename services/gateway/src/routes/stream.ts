import { CortexError, hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import { type Clock, systemClock } from '@cortex/resilience';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { replayMissed } from '../feed/replay-missed';
import type { EventHub } from '../stream/event-hub';
import { SseConnection } from '../stream/sse-connection';

export interface StreamDeps {
  hub: EventHub;
  memory: ServiceClient;
  authenticate: preHandlerHookHandler;
  maxPerUser: number;
  /** Open streams in this process, all users together. */
  maxTotal: number;
  maxBufferedBytes: number;
  retryMs: number;
  clock?: Clock;
}

// setTimeout's longest delay; a later expiry is re-armed when it fires.
const MAX_TIMER_MS = 2_147_483_647;

/** `Last-Event-ID` header (browser reconnects) or `last_event_id` query (fresh page loads). */
function resumePosition(request: { headers: Record<string, unknown>; query: unknown }): number | undefined {
  const header = request.headers['last-event-id'];
  const query = (request.query as { last_event_id?: unknown } | undefined)?.last_event_id;
  const raw = typeof header === 'string' && header !== '' ? header : query;
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new CortexError('invalid_request', 'Last-Event-ID must be an event id from this stream');
  }
  return Number(raw);
}

/** `GET /output/stream`: the user's own events as Server-Sent Events, resumable by event id. */
export function streamRoutes(app: FastifyInstance, deps: StreamDeps) {
  app.get(
    '/output/stream',
    { sse: { kind: 'only', heartbeat: false }, preHandler: deps.authenticate },
    async (request, reply) => {
      const user = request.user;
      const resumeFrom = resumePosition(request);
      if (deps.hub.size >= deps.maxTotal) {
        throw new CortexError('too_many_connections', 'This gateway has as many open streams as it takes', {
          retryAfterMs: 5000,
        });
      }
      if (deps.hub.count(user.id) >= deps.maxPerUser) {
        throw new CortexError('too_many_connections', `At most ${deps.maxPerUser} open streams per user`, {
          retryAfterMs: 5000,
        });
      }
      reply.header('cache-control', 'no-cache, no-transform');
      reply.header('x-accel-buffering', 'no');
      reply.sse.keepAlive();
      reply.sse.sendHeaders();
      const conn = new SseConnection(reply.raw, user.id, deps.maxBufferedBytes, resumeFrom);
      conn.writeRaw(`retry: ${deps.retryMs}\n\n`);
      // Subscribed before anything is read, so nothing falls between the replay and live events.
      // Listen on the response, not the request: the request's close fires early and leaks.
      const unsubscribe = deps.hub.subscribe(conn);
      reply.raw.once('close', unsubscribe);
      // A stream lives no longer than the token that opened it: at expiry it ends with an error
      // event, and the client reconnects with a fresh token, resuming by its last event id.
      const clock = deps.clock ?? systemClock;
      let expiry: unknown;
      const armExpiry = () => {
        // `expiresAt` is the token's claim: a timestamp, so wall time.
        const left = (user.expiresAt ?? Number.POSITIVE_INFINITY) - clock.wallNow();
        if (left === Number.POSITIVE_INFINITY) return;
        if (left <= 0) return conn.fail('Token expired; reconnect with a fresh token', 'token_expired');
        expiry = clock.setTimeout(armExpiry, Math.min(left, MAX_TIMER_MS));
      };
      armExpiry();
      reply.raw.once('close', () => clock.clearTimeout(expiry));
      // Streams idle between heartbeats by design: the connection timeout is for other requests.
      request.raw.socket?.setTimeout(0);
      // A client that left while it was being authenticated is gone already: its 'close' fired
      // before anyone listened, and it must not stay subscribed (and counted) forever.
      if (!conn.isOpen) {
        unsubscribe();
        return;
      }
      conn.send({
        type: 'connection_established',
        connection_id: conn.id,
        user_id: user.id,
        timestamp: new Date().toISOString(),
      });
      if (resumeFrom === undefined) return;
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      try {
        await replayMissed(deps.memory, deps.hub, conn, resumeFrom, request.id, gone.signal);
        await conn.endReplay();
      } catch (err) {
        if (gone.signal.aborted) return;
        // Going live now would move the client's Last-Event-ID past what it missed. Closing keeps
        // its position; the browser reconnects after `retry` and the replay is tried again.
        request.log.warn({ code: hasCode(err) ? err.code : 'unknown' }, 'could not replay missed events');
        conn.fail('Could not replay missed events yet; reconnecting');
      }
    },
  );
}
