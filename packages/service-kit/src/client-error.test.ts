import type { AddressInfo } from 'node:net';
import { createConnection, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClientErrorHandler } from './client-error';
import { createServiceApp } from './create-app';

const apps: ReturnType<typeof createServiceApp>[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

// Node checks request timeouts every 30 s unless told otherwise (the gateway's serverTimeouts).
const timeouts = { requestTimeout: 300, http: { connectionsCheckingInterval: 50, headersTimeout: 300 } };

async function listen() {
  const app = createServiceApp({ service: 'test', logLevel: 'silent', fastify: timeouts });
  apps.push(app);
  app.post('/echo', async (request) => request.body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/** Writes `data` on a raw socket (and nothing more) and returns all the server sends until it closes. */
function raw(port: number, data: string) {
  return new Promise<string>((resolve) => {
    const socket = createConnection(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
    socket.write(data);
  });
}

function parse(answer: string) {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) };
}

describe('client errors', () => {
  it('answers a request whose body does not arrive in time with 408 and the contract body', async () => {
    const port = await listen();
    const answer = await raw(
      port,
      'POST /echo HTTP/1.1\r\nHost: x\r\nX-Request-ID: slow-1\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"',
    );
    const { status, headers, body } = parse(answer);
    expect(status).toBe(408);
    // The id the request was given when its headers were read: the one in its log lines.
    expect(headers['x-request-id']).toBe('slow-1');
    expect(headers.connection).toBe('close');
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(answer.split('\r\n\r\n')[1] ?? ''));
    expect(body.error).toMatchObject({ code: 'request_timeout', request_id: 'slow-1' });
    expect(Number.isNaN(Date.parse(body.error.timestamp))).toBe(false);
  });

  it('answers unparsable HTTP with 400 invalid_request and a generated request id', async () => {
    const port = await listen();
    const { status, headers, body } = parse(await raw(port, 'GET / HTTP/1.1\r\nHo st: x\r\n\r\n'));
    expect(status).toBe(400);
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers.connection).toBe('close');
    expect(body.error).toMatchObject({ code: 'invalid_request', request_id: headers['x-request-id'] });
  });

  it('answers headers over the limit with 431 headers_too_large', async () => {
    const port = await listen();
    const big = `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    const { status, headers, body } = parse(await raw(port, big));
    expect(status).toBe(431);
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.error).toMatchObject({ code: 'headers_too_large', request_id: headers['x-request-id'] });
  });

  it('does nothing, and does not throw, for a socket that is already gone', () => {
    let logged = 0;
    const handler = createClientErrorHandler({
      requestIdOf: () => 'x',
      log: () => {
        logged++;
        throw new Error('must not log');
      },
    });
    const socket = new Socket();
    socket.destroy();
    const err = Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    expect(() => handler(err, socket)).not.toThrow();
    expect(() => handler(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket)).not.toThrow();
    expect(logged).toBe(0);
  });

  it('destroys, without writing, a socket whose response has already started', () => {
    const socket = new Socket();
    const written: unknown[] = [];
    Object.assign(socket, {
      writable: true,
      _httpMessage: { headersSent: true },
      write: (chunk: unknown) => written.push(chunk),
      end: (chunk: unknown) => written.push(chunk),
    });
    const handler = createClientErrorHandler({ requestIdOf: () => 'x', log: () => ({}) as never });
    handler(Object.assign(new Error('bad'), { code: 'HPE_INVALID_METHOD' }), socket);
    expect(written).toEqual([]);
    expect(socket.destroyed).toBe(true);
  });
});
