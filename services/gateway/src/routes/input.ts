import { storableObject, storableString } from '@cortex/service-kit';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { Ingest } from '../ingest/ingest';

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

export interface InputDeps {
  ingest: Pick<Ingest, 'accept'>;
  authenticate: preHandlerHookHandler;
}

/** `POST /input`: parsed and authenticated here, accepted by the ingest (statuses: see Ingest). */
export function inputRoutes(app: FastifyInstance, deps: InputDeps) {
  app.post('/input', { preHandler: deps.authenticate }, async (request) => {
    const body = inputBody.parse(request.body);
    const keyHeader = request.headers['idempotency-key'];
    const key = keyHeader === undefined ? undefined : idempotencyKey.parse(keyHeader);
    return deps.ingest.accept(
      {
        user_id: request.user.id,
        content: body.content,
        conversation_id: body.conversation_id ?? null,
        metadata: body.metadata ?? {},
        key,
      },
      request,
    );
  });
}
