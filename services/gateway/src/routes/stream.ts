import { CortexError } from '@cortex/errors';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { EventHub } from '../stream/event-hub';
import { SseConnection } from '../stream/sse-connection';

export interface StreamDeps {
  hub: EventHub;
  authenticate: preHandlerHookHandler;
  maxPerUser: number;
  maxBufferedBytes: number;
  retryMs: number;
}

/** `GET /output/stream`: the user's own events as Server-Sent Events. */
export function streamRoutes(app: FastifyInstance, deps: StreamDeps) {
  app.get(
    '/output/stream',
    { sse: { kind: 'only', heartbeat: false }, preHandler: deps.authenticate },
    async (request, reply) => {
      const user = request.user;
      if (deps.hub.count(user.id) >= deps.maxPerUser) {
        throw new CortexError('too_many_connections', `At most ${deps.maxPerUser} open streams per user`, {
          retryAfterMs: 5000,
        });
      }
      reply.header('cache-control', 'no-cache, no-transform');
      reply.header('x-accel-buffering', 'no');
      reply.sse.keepAlive();
      reply.sse.sendHeaders();
      const conn = new SseConnection(reply.raw, user.id, deps.maxBufferedBytes);
      conn.writeRaw(`retry: ${deps.retryMs}\n\n`);
      // Listen on the response, not the request: the request's close fires early and leaks.
      const unsubscribe = deps.hub.subscribe(conn);
      reply.raw.once('close', unsubscribe);
      conn.send({
        type: 'connection_established',
        connection_id: conn.id,
        user_id: user.id,
        timestamp: new Date().toISOString(),
      });
    },
  );
}
