import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorCode, statusOf, toErrorBody } from '@cortex/errors';
import type { FastifyBaseLogger } from 'fastify';

/** The code and message for an error Node raised on a connection before any route could answer. */
function clientErrorOf(err: { code?: string }): { code: ErrorCode; message: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', message: 'The request took too long to arrive' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large', message: 'The request headers are too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { code: 'payload_too_large', message: 'The chunk extensions are too large' };
    default:
      return { code: 'invalid_request', message: 'The request is not valid HTTP' };
  }
}

// Even a peer that reads nothing cannot hold the socket past this once the answer is written.
const DESTROY_AFTER_MS = 5_000;

export interface ClientErrorHandlerOptions {
  /** The id Fastify gave the request in flight on the socket, if its headers were read. */
  requestIdOf: (request: IncomingMessage) => string | undefined;
  log: () => FastifyBaseLogger;
}

/**
 * Fastify's `clientErrorHandler`: Node raises client errors (a request timeout, unparsable HTTP,
 * headers over the limit) outside any route, and Fastify's default answers them with its own body
 * and no `X-Request-ID`. This writes the contract's error body instead, says `Connection: close`
 * and ends the socket. It never throws: the socket may already be gone.
 */
export function createClientErrorHandler(options: ClientErrorHandlerOptions) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    try {
      // A reset peer, or one already gone: there is no one to answer.
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      // The response in flight on this socket (Node's own bookkeeping, which its default handler
      // reads too): once its headers are out, another status line would corrupt the stream.
      const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (!socket.writable || inFlight?.headersSent) {
        socket.destroy();
        return;
      }
      const { code, message } = clientErrorOf(err);
      const requestId = (inFlight?.req && options.requestIdOf(inFlight.req)) || randomUUID();
      const status = statusOf(code);
      options.log().info({ request_id: requestId, code, status, err_code: err.code }, 'client error');
      const body = JSON.stringify(toErrorBody({ code, message, requestId }));
      socket.on('error', () => {});
      const timer = setTimeout(() => socket.destroy(), DESTROY_AFTER_MS);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
      // Ended then destroyed once written: a slow client keeps sending, and the server is
      // half-open, so an ended socket would otherwise stay open on the peer's terms.
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Request-ID: ${requestId}\r\n` +
          'Connection: close\r\n\r\n' +
          body,
        () => socket.destroy(),
      );
    } catch {
      socket.destroy();
    }
  };
}
