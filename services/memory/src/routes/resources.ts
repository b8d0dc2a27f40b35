import { toErrorBody } from '@cortex/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { mapDbError } from '../db/db-errors';
import { conversation, historyFor } from '../store/input-store';
import { userId } from '../tools/input-schemas';
import type { MemoryContext } from '../tools/tool';
import { dataFrame, sseWriter } from './sse-writer';

export const limitQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  user_id: userId.optional(),
});

const CHUNK_CHARS = 64 * 1024;

/**
 * Finite resources: each item is one `data:` line, then `{"end": true}`. A failure once the
 * stream has begun can only be reported in-band, as `{"error": {...}}`.
 */
async function streamItems(request: FastifyRequest, reply: FastifyReply, load: () => Promise<unknown[]>) {
  const out = sseWriter(reply);
  out.start();
  try {
    let items: unknown[];
    try {
      items = await load();
    } catch (err) {
      const mapped = mapDbError(err);
      request.log.warn({ err: { code: mapped.code } }, 'resource read failed');
      await out.write(
        dataFrame(
          toErrorBody({
            code: mapped.code,
            message: mapped.message,
            requestId: request.id,
            retryAfterMs: mapped.retryAfterMs,
          }),
        ),
      );
      return;
    }
    // Frames go out in chunks of about 64 KiB, not one socket write each (50 writes per history
    // page were most of its cost), still waiting for the client between chunks.
    let chunk = '';
    for (const item of items) {
      if (out.signal.aborted) return; // the client left: the rest would go nowhere
      chunk += dataFrame(item);
      if (chunk.length >= CHUNK_CHARS) {
        await out.write(chunk);
        chunk = '';
      }
    }
    await out.write(chunk + dataFrame({ end: true }));
  } finally {
    out.end();
  }
}

export function resourceRoutes(app: FastifyInstance, ctx: MemoryContext) {
  const sse = { kind: 'only', heartbeat: false } as const;

  app.get<{ Params: { user_id: string } }>('/resource/history/:user_id', { sse }, async (request, reply) => {
    const user = userId.parse(request.params.user_id);
    const { limit } = limitQuery.parse(request.query);
    await streamItems(request, reply, () => historyFor(ctx.db, user, limit));
  });

  app.get<{ Params: { id: string } }>('/resource/conversation/:id', { sse }, async (request, reply) => {
    const id = userId.parse(request.params.id);
    const { limit, user_id } = limitQuery.parse(request.query);
    await streamItems(request, reply, () => conversation(ctx.db, id, user_id, limit));
  });
}
