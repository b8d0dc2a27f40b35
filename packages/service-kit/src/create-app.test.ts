import { Agent, request as httpRequest } from 'node:http';
import { CortexError } from '@cortex/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServiceApp, loggedUrl } from './create-app';
import { DEADLINE_HEADER } from './deadline';

const apps: ReturnType<typeof createServiceApp>[] = [];
function build() {
  const app = createServiceApp({ service: 'test', logLevel: 'silent' });
  apps.push(app);
  app.post('/echo', async (request) => z.object({ content: z.string().min(1) }).parse(request.body));
  app.get('/fail/:code', async (request) => {
    const { code } = request.params as { code: string };
    if (code === 'timeout') throw new CortexError('timeout', 'memory at 10.0.0.7:9000 timed out');
    if (code === 'circuit') throw new CortexError('circuit_open', 'open', { retryAfterMs: 2500 });
    if (code === 'named-circuit')
      throw new CortexError('circuit_open', 'circuit "memory" is open', {
        retryAfterMs: 100,
        details: { circuit: 'memory', state: 'open' },
      });
    if (code === 'odd-circuit')
      throw new CortexError('circuit_open', 'x', { details: { circuit: 'http://10.0.0.7:9000/x y' } });
    if (code === 'client')
      throw new CortexError('client_error', 'bad arguments', { details: { field: 'x' } });
    throw new Error('SELECT * FROM secrets failed');
  });
  return app;
}
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

describe('service app', () => {
  it('echoes a valid X-Request-ID and generates one otherwise', async () => {
    const app = build();
    const echoed = await app.inject({ url: '/health', headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    const spaced = await app.inject({ url: '/health', headers: { 'x-request-id': 'trace 7 "a<b>"' } });
    expect(spaced.headers['x-request-id']).toBe('trace 7 "a<b>"');
    for (const bad of ['bad id\nwith newline', 'x'.repeat(201), 'tab\there']) {
      const generated = await app.inject({ url: '/health', headers: { 'x-request-id': bad } });
      expect(generated.headers['x-request-id'], JSON.stringify(bad)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('keeps tokens in the query out of the logged URL', () => {
    expect(loggedUrl('/output/stream?token=eyJ.a.b&last_event_id=4')).toBe(
      '/output/stream?token=[redacted]&last_event_id=4',
    );
    expect(loggedUrl('/x?a=1&TOKEN=s')).toBe('/x?a=1&TOKEN=[redacted]');
    expect(loggedUrl('/history?limit=5')).toBe('/history?limit=5');
  });

  it('redacts every encoding of the token key the query parser would read as `token`', async () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig';
    for (const key of ['%74oken', 'tok%65n', '%74%6F%6B%65%6E', 'token', '+token', 'access_token']) {
      const logged = loggedUrl(`/output/stream?a=1&${key}=${jwt}&b=2`);
      expect(logged, key).not.toContain(jwt);
      expect(logged, key).toBe(`/output/stream?a=1&${key}=[redacted]&b=2`);
    }
    // The parser agrees that `%74oken` is `token`: this is what a browser's stream could send.
    const app = createServiceApp({ service: 't', logLevel: 'silent' });
    app.get('/q', async (request) => request.query);
    const res = await app.inject({ url: `/q?%74oken=${jwt}` });
    expect(res.json()).toEqual({ token: jwt });
    expect(loggedUrl('/x?%E0%A4%A=1')).toBe('/x?%E0%A4%A=[redacted]');
    expect(loggedUrl('/x?tokens=1#token=2')).toBe('/x?tokens=1');
  });

  it('answers a path that is not valid percent-encoding with the error body (400)', async () => {
    const app = createServiceApp({ service: 't', logLevel: 'silent' });
    app.get('/analysis/:id', async () => ({ ok: true }));
    for (const url of ['/analysis/%FF', '/analysis/%E0%A4%A', '/analysis/%']) {
      const res = await app.inject({ url, headers: { 'x-request-id': 'bad-url' } });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error, url).toMatchObject({ code: 'invalid_request', request_id: 'bad-url' });
      expect(res.headers['x-request-id']).toBe('bad-url');
    }
  });

  it('shows only statuses on a public health route when asked', async () => {
    const app = createServiceApp({ service: 't', logLevel: 'silent', publicHealth: 'status' });
    app.health.add('db', () => ({ status: 'warning', circuit: 'open', url: 'http://10.0.0.5:9000' }));
    const res = await app.inject({ url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'warning', dependencies: { db: { status: 'warning' } } });
    expect((await app.health.run()).dependencies.db).toMatchObject({ circuit: 'open' });
  });

  it('answers unknown routes with the error body', async () => {
    const res = await build().inject({ url: '/nope', headers: { 'x-request-id': 'r-1' } });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: 'not_found', request_id: 'r-1' });
    expect(Date.parse(res.json().error.timestamp)).not.toBeNaN();
  });

  it('turns validation failures into 400 with details', async () => {
    const res = await build().inject({ method: 'POST', url: '/echo', payload: { content: '' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_request');
    expect(res.json().error.details[0].path).toBe('content');
  });

  it('turns malformed JSON and oversized bodies into 4xx, not 5xx', async () => {
    const app = build();
    const bad = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"content":',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_request');
    const big = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ content: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');
    const media = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    expect(media.statusCode).toBe(415);
    expect(media.json().error.code).toBe('unsupported_media_type');
  });

  it('maps taxonomy codes to statuses and never leaks internals on 5xx', async () => {
    const app = build();
    const timeout = await app.inject({ url: '/fail/timeout' });
    expect(timeout.statusCode).toBe(504);
    expect(timeout.json().error.code).toBe('timeout');
    expect(timeout.body).not.toContain('10.0.0.7');
    const open = await app.inject({ url: '/fail/circuit' });
    expect(open.statusCode).toBe(503);
    expect(open.headers['retry-after']).toBe('3');
    expect(open.json().error.retry_after).toBe(3);
    // An open circuit names itself (its name is ours, not the dependency's words)…
    const named = await app.inject({ url: '/fail/named-circuit' });
    expect(named.statusCode).toBe(503);
    expect(named.json().error).toMatchObject({
      code: 'circuit_open',
      message: 'Dependency "memory" is unavailable; its circuit is open',
      details: { circuit: 'memory' },
    });
    // …unless the name is not a plain one.
    const odd = await app.inject({ url: '/fail/odd-circuit' });
    expect(odd.body).not.toContain('10.0.0.7');
    expect(odd.json().error.details).toBeUndefined();
    const client = await app.inject({ url: '/fail/client' });
    expect(client.statusCode).toBe(400);
    expect(client.json().error).toMatchObject({ code: 'client_error', details: { field: 'x' } });
    const bug = await app.inject({ url: '/fail/other' });
    expect(bug.statusCode).toBe(500);
    expect(bug.json().error).toMatchObject({ code: 'internal_error', message: 'Internal server error' });
    expect(bug.body).not.toContain('SELECT');
  });

  it('drops work whose propagated deadline has already passed', async () => {
    const res = await build().inject({ url: '/health', headers: { [DEADLINE_HEADER]: '0' } });
    expect(res.statusCode).toBe(504);
    expect(res.json().error.code).toBe('timeout');
  });

  it('ignores the deadline header where it is not trusted (a public edge)', async () => {
    const app = createServiceApp({ service: 'edge', logLevel: 'silent', trustDeadlineHeader: false });
    apps.push(app);
    app.get('/deadline', async (request) => ({ deadline: request.deadline ?? null }));
    for (const value of ['0', '5']) {
      const res = await app.inject({ url: '/deadline', headers: { [DEADLINE_HEADER]: value } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ deadline: null });
    }
  });

  it('aggregates health: non-critical failure is a warning, critical is unhealthy', async () => {
    const app = build();
    app.health.add('cache', () => ({ status: 'unhealthy' }));
    const warn = await app.inject({ url: '/health' });
    expect(warn.statusCode).toBe(200);
    expect(warn.json()).toMatchObject({
      status: 'warning',
      dependencies: { cache: { status: 'unhealthy' } },
    });
    app.health.add(
      'database',
      async () => {
        throw Object.assign(new Error('x'), { code: 'connection' });
      },
      { critical: true },
    );
    const down = await app.inject({ url: '/health' });
    expect(down.statusCode).toBe(503);
    expect(down.json().status).toBe('unhealthy');
    expect(down.json().dependencies.database).toEqual({ status: 'unhealthy', error: 'connection' });
  });

  it('closes while a keep-alive client is mid-request, answering it with Connection: close', async () => {
    const app = createServiceApp({ service: 'closing', logLevel: 'silent' });
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    app.get('/slow', async () => {
      arrived();
      await new Promise((r) => setTimeout(r, 200));
      return { done: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    // A client that would keep an idle connection for minutes: only the server ending the socket
    // lets close() finish within the test's timeout.
    const agent = new Agent({ keepAlive: true, timeout: 600_000 });
    const answer = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: (app.server.address() as { port: number }).port, path: '/slow', agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    // Closed once the request is being handled (a fixed sleep let a loaded machine close first,
    // and the late request was refused with 503 as a closing server should).
    await inHandler;
    await app.close();
    expect(await answer).toEqual({ status: 200, connection: 'close' });
    agent.destroy();
  });

  it('exposes Prometheus metrics with per-route counts', async () => {
    const app = build();
    await app.inject({ url: '/health' });
    const res = await app.inject({ url: '/metrics' });
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(
      /http_requests_total\{method="GET",route="\/health",status="200",service="test"\} 1/,
    );
  });
});
