import { toErrorBody } from '@cortex/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mapError } from './error-mapping';

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const mapped = mapError(err);
  if (mapped.isBug) request.log.error({ err }, 'request failed');
  else if (mapped.status >= 500)
    request.log.warn({ err: { message: (err as Error)?.message, code: mapped.code } }, 'dependency failure');
  else request.log.info({ code: mapped.code, status: mapped.status }, 'request rejected');
  if (mapped.retryAfterMs !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(mapped.retryAfterMs / 1000))));
  return reply.code(mapped.status).send(
    toErrorBody({
      code: mapped.code,
      message: mapped.message,
      requestId: request.id,
      details: mapped.details,
      retryAfterMs: mapped.retryAfterMs,
    }),
  );
}

/** The one error handler and the one not-found handler, producing the contract's error body. */
export function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err, request, reply) => {
    if (reply.sent || reply.raw.headersSent) {
      // A streaming response already committed its status; all we can do is log and end it.
      request.log.warn({ err }, 'error after response was sent');
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    return sendError(request, reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, {
      statusCode: 404,
      message: `Route ${request.method} ${request.url.split('?')[0]} not found`,
    }),
  );
}
