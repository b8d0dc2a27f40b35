import { once } from 'node:events';
import type { FastifyReply } from 'fastify';

/**
 * Writes SSE frames straight to the socket, waiting for `drain` when the client is behind, but
 * never past the client going away (or `stop`): a closed socket may never drain, and
 * `@fastify/sse`'s own `send()` would wait for it forever (its issue #54).
 */
export function sseWriter(reply: FastifyReply, stop?: AbortSignal) {
  const gone = new AbortController();
  reply.raw.once('close', () => gone.abort());
  const signal = stop ? AbortSignal.any([gone.signal, stop]) : gone.signal;
  const raw = reply.raw;
  return {
    /** Aborted once the client is gone (or `stop` fired): stop producing. */
    signal,
    start() {
      reply.sse.keepAlive();
      reply.sse.sendHeaders();
    },
    async write(chunk: string) {
      if (signal.aborted) return;
      // once() with a signal removes its listeners either way: a race against the signal's own
      // 'abort' event would leave one listener behind per backed-up write.
      if (!raw.write(chunk)) await once(raw, 'drain', { signal }).catch(() => {});
    },
    /** Ends the stream if it began; before the headers, the error handler answers instead. */
    end() {
      if (raw.headersSent && !raw.writableEnded) raw.end();
    },
  };
}

export const dataFrame = (item: unknown) => `data: ${JSON.stringify(item)}\n\n`;
