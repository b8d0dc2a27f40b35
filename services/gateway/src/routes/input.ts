import { createHash, randomUUID } from 'node:crypto';
import { CortexError, hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import { storableObject, storableString } from '@cortex/service-kit';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { EventHub } from '../stream/event-hub';

export const inputBody = z.object({
  content: storableString().trim().min(1, 'content must not be empty').max(100_000),
  conversation_id: storableString().min(1).max(256).optional(),
  metadata: storableObject().optional(),
});

const storeResult = z.object({
  status: z.enum(['stored', 'already_exists']),
  item_id: z.string(),
  seq: z.number().optional(),
});

const idempotencyKey = z.string().min(1).max(256);

/** A retry with the same key and user maps to the same item id, so memory stores it once. */
export function itemIdFor(userId: string, key: string | undefined): string {
  if (key === undefined) return randomUUID();
  const h = createHash('sha256').update(userId).update('\0').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface InputDeps {
  memory: ServiceClient;
  hub: EventHub;
  authenticate: preHandlerHookHandler;
}

export function inputRoutes(app: FastifyInstance, deps: InputDeps) {
  app.post('/input', { preHandler: deps.authenticate }, async (request) => {
    const body = inputBody.parse(request.body);
    const keyHeader = request.headers['idempotency-key'];
    const key = keyHeader === undefined ? undefined : idempotencyKey.parse(keyHeader);
    const user = request.user;
    const data = {
      content: body.content,
      conversation_id: body.conversation_id ?? null,
      timestamp: new Date().toISOString(),
      metadata: body.metadata ?? {},
    };
    const itemId = itemIdFor(user.id, key);
    try {
      const stored = await deps.memory.callTool(
        'store_input',
        { user_id: user.id, input_data: { id: itemId, ...data } },
        { requestId: request.id, schema: storeResult },
      );
      if (stored.status === 'stored') {
        deps.hub.publish(
          user.id,
          { type: 'input', id: itemId, data, user_id: user.id, timestamp: data.timestamp },
          stored.seq === undefined ? undefined : String(stored.seq),
        );
      }
      return { status: 'received', item_id: itemId, data };
    } catch (err) {
      // A caller mistake (or an id clash) is the caller's to see; anything else means memory
      // could not take it now.
      if (
        hasCode(err) &&
        (err.code === 'invalid_request' || err.code === 'conflict' || err.code === 'client_error')
      )
        throw err;
      request.log.warn({ code: hasCode(err) ? err.code : 'unknown' }, 'memory could not store input');
      if (!hasCode(err)) throw new CortexError('internal_error', 'store failed', { cause: err });
      return { status: 'received_not_stored', item_id: itemId, data };
    }
  });
}
