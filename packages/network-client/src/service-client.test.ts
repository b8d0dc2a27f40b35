import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DEADLINE_HEADER } from '@cortex/errors';
import { CircuitBreaker } from '@cortex/resilience';
import { FakeClock } from '@cortex/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ResumableStream } from './resumable-stream';
import { ServiceClient } from './service-client';
import { ServiceTokenSigner } from './service-token-signer';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const servers: Server[] = [];
const clients: ServiceClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(handler: Handler) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => handler(req, res, body));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function client(urls: string, extra: Partial<ConstructorParameters<typeof ServiceClient>[0]> = {}) {
  const c = new ServiceClient({ service: 'memory', urls, timeoutMs: 300, ...extra });
  clients.push(c);
  return c;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('ServiceClient.callTool', () => {
  it('posts {arguments} with request id and remaining deadline, and returns the validated result', async () => {
    let seen: { url?: string; body?: string; headers?: IncomingMessage['headers'] } = {};
    const url = await serve((req, res, body) => {
      seen = { url: req.url, body, headers: req.headers };
      json(res, 200, { result: { status: 'stored', item_id: 'x' } });
    });
    const result = await client(url).callTool(
      'store_input',
      { a: 1 },
      {
        requestId: 'rid-1',
        deadline: Date.now() + 10_000,
        schema: z.object({ status: z.string(), item_id: z.string() }),
      },
    );
    expect(result).toEqual({ status: 'stored', item_id: 'x' });
    expect(seen.url).toBe('/tool/store_input');
    expect(JSON.parse(seen.body ?? '')).toEqual({ arguments: { a: 1 } });
    expect(seen.headers?.['x-request-id']).toBe('rid-1');
    expect(Number(seen.headers?.[DEADLINE_HEADER])).toBeGreaterThan(5000);
  });

  it('turns error bodies, statuses and Retry-After into coded errors', async () => {
    const url = await serve((req, res) => {
      if (req.url?.includes('busy'))
        json(
          res,
          503,
          { error: { code: 'service_unavailable', message: 'db down' } },
          { 'retry-after': '2' },
        );
      else if (req.url?.includes('bad'))
        json(res, 400, { error: { code: 'invalid_request', message: 'nope', details: [1] } });
      else if (req.url?.includes('html')) {
        res.writeHead(502);
        res.end('<html>bad gateway</html>');
      } else json(res, 200, { result: 'not an object' });
    });
    const c = client(url);
    await expect(c.callTool('busy', {})).rejects.toMatchObject({
      code: 'service_unavailable',
      status: 503,
      retryAfterMs: 2000,
    });
    await expect(c.callTool('bad', {})).rejects.toMatchObject({ code: 'invalid_request', status: 400 });
    await expect(c.callTool('html', {})).rejects.toMatchObject({ code: 'server_error', status: 502 });
    await expect(c.callTool('shape', {}, { schema: z.object({ a: z.number() }) })).rejects.toMatchObject({
      code: 'data_error',
    });
  });

  it('classifies a refused connection, a hang and malformed JSON', async () => {
    const dead = await serve(() => {});
    const [s] = servers.splice(0);
    s?.close();
    await expect(client(dead).callTool('x', {})).rejects.toMatchObject({ code: 'connection' });
    const hang = await serve(() => {});
    await expect(client(hang).callTool('x', {})).rejects.toMatchObject({ code: 'timeout' });
    const garbage = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"result": ');
    });
    await expect(client(garbage).callTool('x', {})).rejects.toMatchObject({ code: 'data_error' });
  });

  it('refuses to call when the deadline has already passed', async () => {
    const url = await serve((_req, res) => json(res, 200, { result: 1 }));
    await expect(client(url).callTool('x', {}, { deadline: Date.now() - 1 })).rejects.toMatchObject({
      code: 'timeout',
    });
  });

  it('moves traffic off an instance that keeps failing', async () => {
    let goodHits = 0;
    const good = await serve((_req, res) => {
      goodHits++;
      json(res, 200, { result: 'ok' });
    });
    const bad = await serve((_req, res) =>
      json(res, 500, { error: { code: 'internal_error', message: 'x' } }),
    );
    const c = client(`${bad},${good}`, { ejection: { ejectAfterFailures: 2, ejectMs: 60_000 } });
    const outcomes = [];
    for (let i = 0; i < 10; i++)
      outcomes.push(
        await c.callTool('x', {}).then(
          () => 'ok',
          (e) => e.code,
        ),
      );
    // Two failures eject the bad instance; every later call lands on the good one.
    expect(outcomes.filter((o) => o !== 'ok')).toHaveLength(2);
    expect(goodHits).toBe(8);
  });
});

function sse(res: ServerResponse, frames: string[], end = true) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const f of frames) res.write(f);
  if (end) res.end();
}

describe('ServiceClient.getResource', () => {
  it('yields items until the end marker', async () => {
    const url = await serve((req, res) => {
      expect(req.headers.accept).toBe('text/event-stream');
      sse(res, ['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: {"end":true}\n\n']);
    });
    expect(await client(url).collect('history/u', { query: { limit: 2 } })).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('raises in-band errors and a stream cut before its end marker', async () => {
    const url = await serve((req, res) => {
      if (req.url?.includes('err'))
        sse(res, ['data: {"n":1}\n\n', 'data: {"error":{"code":"service_unavailable","message":"x"}}\n\n']);
      else sse(res, ['data: {"n":1}\n\n']);
    });
    await expect(client(url).collect('err')).rejects.toMatchObject({ code: 'service_unavailable' });
    await expect(client(url).collect('cut')).rejects.toMatchObject({ code: 'data_error' });
  });

  it('yields events that carry an error field of their own: only the bare error object is an error', async () => {
    const failed = { type: 'task_failed', seq: 2, id: 't', error: 'all backends failed', task: 'summary' };
    const typed = { type: 'note', error: { code: 'timeout', message: 'an object, but typed' } };
    const url = await serve((_req, res) =>
      sse(res, [
        'data: {"n":1}\n\n',
        `id: 2\ndata: ${JSON.stringify(failed)}\n\n`,
        `data: ${JSON.stringify(typed)}\n\n`,
        'data: {"error":"a bare string"}\n\n',
        'data: {"n":3}\n\n',
        'data: {"end":true}\n\n',
      ]),
    );
    expect(await client(url).collect('events')).toEqual([
      { n: 1 },
      failed,
      typed,
      { error: 'a bare string' },
      { n: 3 },
    ]);
  });
});

describe('ResumableStream', () => {
  it('reconnects after a break and resumes after the last id it saw', async () => {
    const requests: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      const last = req.headers['last-event-id'] as string | undefined;
      requests.push(last);
      const from = Number(last ?? 0);
      // Each connection sends two events and then drops, like a restarting server.
      sse(res, [
        `id: ${from + 1}\ndata: {"n":${from + 1}}\n\n`,
        `id: ${from + 2}\ndata: {"n":${from + 2}}\n\n`,
      ]);
    });
    const got: number[] = [];
    const stream = new ResumableStream(client(url), {
      path: 'events',
      baseDelayMs: 1,
      maxDelayMs: 5,
      onItem: (item) => got.push((item as { n: number }).n),
    }).start();
    while (got.length < 6) await new Promise((r) => setTimeout(r, 10));
    await stream.close();
    expect(got.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(requests.slice(0, 3)).toEqual([undefined, '2', '4']);
  });

  it('follows past a task_failed event and resumes after it like any other', async () => {
    const requests: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      const last = req.headers['last-event-id'] as string | undefined;
      requests.push(last);
      const from = Number(last ?? 0);
      const event = (seq: number) =>
        seq === 2
          ? { type: 'task_failed', seq, error: 'every backend failed' }
          : { type: 'input', seq, content: `c${seq}` };
      // One event per connection, then the end: every resume starts from the last id seen.
      sse(res, [`id: ${from + 1}\ndata: ${JSON.stringify(event(from + 1))}\n\n`, 'data: {"end":true}\n\n']);
    });
    const got: unknown[] = [];
    const breaks: unknown[] = [];
    const stream = new ResumableStream(client(url), {
      path: 'events',
      baseDelayMs: 1,
      maxDelayMs: 5,
      onItem: (item) => got.push((item as { type: string }).type),
      onBreak: (err) => breaks.push((err as { code?: string }).code ?? 'ended'),
    }).start();
    while (got.length < 4) await new Promise((r) => setTimeout(r, 10));
    await stream.close();
    expect(got.slice(0, 4)).toEqual(['input', 'task_failed', 'input', 'input']);
    expect(requests.slice(0, 4)).toEqual([undefined, '1', '2', '3']);
    // Every break was the server ending the stream; none was taken for an in-band error.
    expect(breaks.filter((b) => b !== 'ended')).toEqual([]);
  });

  it("stays away for the server's Retry-After, and long after a 4xx, on a clock it is given", async () => {
    const arrivals: number[] = [];
    const clock = new FakeClock(0);
    const url = await serve((req, res) => {
      arrivals.push(clock.now());
      if (req.url?.startsWith('/resource/busy'))
        json(res, 503, { error: { code: 'service_unavailable', message: 'later' } }, { 'retry-after': '30' });
      else json(res, 404, { error: { code: 'not_found', message: 'no such resource' } });
    });
    const waitFor = async (n: number) => {
      while (arrivals.length < n) await new Promise((r) => setTimeout(r, 5));
    };
    const settle = () => new Promise((r) => setTimeout(r, 50));
    /** Follows `path`; its second connection must wait `awayMs` on the clock after the first. */
    const staysAway = async (path: string, awayMs: number) => {
      arrivals.length = 0;
      const stream = new ResumableStream(client(url), {
        path,
        baseDelayMs: 1,
        maxDelayMs: 5_000,
        clock,
        onItem: () => {},
      }).start();
      await waitFor(1);
      await settle();
      await clock.advanceAsync(awayMs - 1);
      await settle();
      expect(arrivals, path).toHaveLength(1);
      await clock.advanceAsync(1);
      await waitFor(2);
      expect(arrivals[1]! - arrivals[0]!, path).toBeGreaterThanOrEqual(awayMs);
      await stream.close();
    };
    await staysAway('busy', 30_000); // the server's Retry-After
    await staysAway('gone', 5_000); // maxDelayMs after a 404
  });
});

describe('instance health', () => {
  it("does not hold the caller's own abort against an instance", async () => {
    const url = await serve(() => {}); // never answers
    const c = client(url, { ejection: { ejectAfterFailures: 2 } });
    const gaveUp = () => {
      const caller = new AbortController();
      setTimeout(() => caller.abort(), 30);
      return caller.signal;
    };
    for (let i = 0; i < 3; i++) {
      await expect(c.collect('slow', { signal: gaveUp() })).rejects.toMatchObject({ code: 'aborted' });
      await expect(c.callTool('slow', {}, { signal: gaveUp() })).rejects.toMatchObject({ code: 'aborted' });
    }
    expect(c.instances.describe()).toEqual([expect.objectContaining({ ejected: false })]);
  });
});

describe('recovery driven by health checks', () => {
  /** A server whose /health the test turns on and off. */
  async function flappingHealth() {
    const state = { up: false, checks: 0 };
    const url = await serve((req, res) => {
      if (req.url === '/health') {
        state.checks++;
        return json(res, state.up ? 200 : 503, { status: state.up ? 'healthy' : 'unhealthy' });
      }
      json(res, 200, { result: 'ok' });
    });
    return { url, state };
  }
  const openBreaker = async (breaker: CircuitBreaker) => {
    await breaker
      .execute(() => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })))
      .catch(() => {});
    expect(breaker.state).toBe('open');
  };

  it('a healthy check after a failed one ends the open period, un-ejects, and tells listeners', async () => {
    const { url, state } = await flappingHealth();
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 60_000, clock });
    const c = client(url, { breaker, ejection: { ejectAfterFailures: 1, ejectMs: 60_000, clock } });
    let recovered = 0;
    c.onRecovered(() => recovered++);
    await openBreaker(breaker);
    const [instance] = c.instances.all;
    c.instances.report(instance!, false);
    await c.checkHealth();
    expect(c.instances.describe()).toEqual([expect.objectContaining({ healthy: false, ejected: true })]);
    expect([breaker.state, recovered, c.degraded]).toEqual(['open', 0, true]);
    state.up = true;
    await c.checkHealth();
    expect(c.instances.describe()).toEqual([expect.objectContaining({ healthy: true, ejected: false })]);
    expect([breaker.state, recovered]).toEqual(['half_open', 1]);
    await expect(c.callTool('t', {}, {})).resolves.toBe('ok'); // a plain client: no policy
  });

  it('gives an open breaker one healthy check as evidence per outage, then only news', async () => {
    const { url, state } = await flappingHealth();
    state.up = true;
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 60_000, clock });
    const c = client(url, { breaker });
    await openBreaker(breaker); // calls failed while /health kept passing
    await c.checkHealth();
    expect(breaker.state).toBe('half_open'); // the first healthy check since it opened
    await openBreaker(breaker); // the probe failed
    await c.checkHealth();
    expect(breaker.state).toBe('open'); // /health passing is no news now: the backed-off wait holds
    state.up = false;
    await c.checkHealth();
    state.up = true;
    await c.checkHealth();
    expect(breaker.state).toBe('half_open'); // down and back up again is news
  });

  it('checks often while the service looks down, and seldom when it is fine', async () => {
    const { url, state } = await flappingHealth();
    const c = client(url, { healthCheckIntervalMs: 60_000, recoveryCheckIntervalMs: 20 });
    await until(() => state.checks >= 1);
    await new Promise((r) => setTimeout(r, 200));
    const whileDown = state.checks;
    expect(whileDown).toBeGreaterThan(3);
    state.up = true;
    await until(() => !c.degraded);
    const before = state.checks;
    await new Promise((r) => setTimeout(r, 200));
    expect(state.checks - before).toBeLessThanOrEqual(1);
  });

  it('recheck() asks now and says whether the breaker lets calls through', async () => {
    const { url, state } = await flappingHealth();
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 60_000, clock });
    const c = client(url, { breaker });
    await openBreaker(breaker);
    expect(await c.recheck(1000)).toBe(false);
    state.up = true;
    expect(await c.recheck(1000)).toBe(true);
    expect(breaker.state).toBe('half_open');
    const hanging = client(await serve(() => {}), { breaker: new CircuitBreaker({ failureThreshold: 1 }) });
    const started = Date.now();
    expect(await hanging.recheck(50)).toBe(false); // no answer in time: no reason to try again
    expect(Date.now() - started).toBeLessThan(1000); // the 2 s check itself was not waited for
  });

  it('logs a name that does not resolve, with the host and the error, and keeps the name', async () => {
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    const c = client('http://no-such-host.invalid:9', {
      log: { warn: (obj, msg) => logged.push({ obj: obj as Record<string, unknown>, msg }) },
    });
    await c.refresh();
    expect(logged[0]?.msg).toMatch(/could not resolve/);
    expect(logged[0]?.obj).toMatchObject({ service: 'memory', host: 'no-such-host.invalid' });
    expect(logged[0]?.obj.err).toBeInstanceOf(Error);
    expect(c.instances.all.map((i) => i.url.hostname)).toEqual(['no-such-host.invalid']);
  });

  it('a resumable stream waiting out a long backoff reconnects as soon as the service is back', async () => {
    const { url, state } = await flappingHealth();
    let opened = 0;
    const streamUrl = await serve((req, res) => {
      if (req.url === '/health')
        return json(res, state.up ? 200 : 503, { status: state.up ? 'healthy' : 'x' });
      opened++;
      if (!state.up) return json(res, 503, { error: { code: 'service_unavailable', message: 'down' } });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
    });
    void url;
    const c = client(streamUrl);
    const items: unknown[] = [];
    const stream = new ResumableStream(c, {
      path: 'events',
      onItem: (item) => items.push(item),
      baseDelayMs: 60_000,
      maxDelayMs: 60_000,
      random: () => 1,
    }).start();
    await until(() => opened === 1);
    await c.checkHealth(); // down: news needs a failed check first
    state.up = true;
    await c.checkHealth();
    await until(() => items.length === 1);
    expect(opened).toBe(2);
    await stream.close();
  });
});

async function until(check: () => boolean, timeoutMs = 5000) {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ServiceClient service tokens', () => {
  it('signs tool calls, resources and resumable streams for its audience, never health checks', async () => {
    const seen: { path: string; authorization: string | undefined }[] = [];
    const url = await serve((req, res) => {
      seen.push({ path: req.url?.split('?')[0] ?? '', authorization: req.headers.authorization });
      if (req.url === '/health') return json(res, 200, { status: 'healthy' });
      if (req.url?.startsWith('/tool/')) return json(res, 200, { result: {} });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"n": 1}\n\ndata: {"end": true}\n\n');
    });
    const signer = new ServiceTokenSigner({
      issuer: 'gateway',
      secret: 'client-test-secret-0123456789abcdef',
    });
    const c = client(url, { tokens: signer });
    await c.callTool('store_input', {});
    await c.collect('history/u');
    await c.checkHealth();
    const expected = `Bearer ${await signer.token('memory')}`;
    expect(seen).toEqual([
      { path: '/tool/store_input', authorization: expected },
      { path: '/resource/history/u', authorization: expected },
      { path: '/health', authorization: undefined },
    ]);
    const payload = JSON.parse(Buffer.from(expected.split('.')[1] as string, 'base64url').toString());
    expect(payload).toMatchObject({ sub: 'gateway', aud: 'memory' });
    // One token for all of them: the calls did not sign.
    expect(signer.signed).toBe(1);
    // An explicit audience wins over the service's name.
    seen.length = 0;
    await client(url, { tokens: signer, audience: 'cognition' }).callTool('t', {});
    expect(seen[0]?.authorization).toBe(`Bearer ${await signer.token('cognition')}`);
  });
});
