import { hasCode } from '@cortex/errors';
import { stableId, storableObject, storableString, timeOrderedId } from '@cortex/service-kit';
import { currentTraceparent } from '@cortex/telemetry';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { PendingJournal } from '../pending/journal';
import type { PendingReplayer } from '../pending/replayer';
import { type InputWriter, refusedByMemory } from '../store/input-writer';
import type { EventHub } from '../stream/event-hub';
import { inputEvent } from '../stream/user-events';

export const inputBody = z.object({
  // Validated, never rewritten: what the user typed (leading spaces included) is what is stored.
  content: storableString()
    .max(100_000)
    .refine((c) => c.trim().length > 0, 'content must not be empty'),
  // null is what the gateway itself answers for "none": a client echoing it back is not wrong.
  conversation_id: storableString().min(1).max(256).nullish(),
  metadata: storableObject().nullish(),
});

const idempotencyKey = z.string().min(1).max(256);

/**
 * A retry with the same key and user maps to the same item id, so memory stores it once. Without
 * a key the id is time-ordered, so memory's primary key grows at its edge (see timeOrderedId).
 */
export function itemIdFor(userId: string, key: string | undefined): string {
  return key === undefined ? timeOrderedId() : stableId(userId, key);
}

export interface InputDeps {
  writer: InputWriter;
  hub: EventHub;
  journal: PendingJournal;
  replayer: PendingReplayer;
  authenticate: preHandlerHookHandler;
  /**
   * Asks memory's health now, waiting at most `maxWaitMs`; true if calls may go through after it
   * (see `ServiceClient.recheck`). Without it an open circuit journals at once.
   */
  recheckMemory?: (maxWaitMs: number) => Promise<boolean>;
}

/**
 * How long an input met by an open circuit waits for a health check of memory before it is
 * journalled. A refused connection answers in a millisecond; only a hanging memory costs this.
 */
const RECHECK_WAIT_MS = 200;

/**
 * `POST /input`. Stored in memory → `received`. Memory away (refused, timed out, circuit open,
 * database down) → journalled durably → `received_storage_pending`, shown on the user's streams at
 * once, stored later by the replayer. Journal full or failing → `received_not_stored`.
 */
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
    // A retry of an input still waiting in the journal must not be stored around it; like a retry
    // of a stored one, it is answered with what the first request carried.
    const pending = await deps.journal.held(itemId);
    if (pending) return { status: 'received_storage_pending', item_id: itemId, data: pending };
    let retryAfterMs: number | undefined;
    const store = () =>
      deps.writer.store({ user_id: user.id, item_id: itemId, data, requestId: request.id, log: request.log });
    try {
      let kept: typeof data;
      try {
        kept = await store();
      } catch (err) {
        // The circuit may still be open although memory is back (its open period was sized for an
        // outage): the gateway asks memory's health itself rather than journal a storable input.
        if (
          !hasCode(err, 'circuit_open') ||
          !deps.recheckMemory ||
          !(await deps.recheckMemory(RECHECK_WAIT_MS))
        )
          throw err;
        kept = await store();
      }
      return { status: 'received', item_id: itemId, data: kept };
    } catch (err) {
      if (refusedByMemory(err)) throw err;
      request.log.warn(
        { code: hasCode(err) ? err.code : 'unknown' },
        'memory could not store input; journalling',
      );
      // Our own breaker's remaining open period is not memory's Retry-After (it ends on evidence).
      retryAfterMs = hasCode(err) && err.code !== 'circuit_open' ? err.retryAfterMs : undefined;
    }
    let held: typeof data;
    try {
      // A concurrent retry of the same input shares one journal line, and answers with its data.
      const traceparent = currentTraceparent();
      held = await deps.journal.append({
        item_id: itemId,
        user_id: user.id,
        data,
        ...(traceparent === undefined ? {} : { traceparent }),
      });
    } catch (err) {
      request.log.error({ code: hasCode(err) ? err.code : 'unknown' }, 'input could not be journalled');
      return { status: 'received_not_stored', item_id: itemId, data };
    }
    if (held === data) deps.hub.publishPending(user.id, inputEvent(user.id, itemId, data));
    deps.replayer.kick(retryAfterMs);
    return { status: 'received_storage_pending', item_id: itemId, data: held };
  });
}
