import { createConnection } from 'node:net';
import { http, ServiceProcess, serviceSecretsEnv, signToken, TEST_SECRET } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../services/gateway/src/auth/password-hash';
import { SseRecorder } from './harness/sse-client';

// Nothing listens here: the abuse bounds are the gateway's own, and need no memory or cognition.
const NOWHERE = 'http://127.0.0.1:9';
const REQUEST_TIMEOUT_MS = 1500;

/** An HS256 token as anyone can make one without the secret: any payload, a bogus signature. */
function forged(claims: Record<string, unknown>, alg = 'HS256') {
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 600;
  return `${part({ alg, typ: 'JWT' })}.${part({ exp, ...claims })}.${alg === 'none' ? '' : 'c2ln'}`;
}

/**
 * Sends a POST's headers and then its body one byte per `everyMs`, as a slow-loris client does,
 * until the server answers or closes. Returns what came back, when, and how much was sent.
 */
function trickle(port: number, everyMs: number) {
  return new Promise<{ ms: number; bytesSent: number; answer: string }>((resolve) => {
    const started = Date.now();
    const socket = createConnection(port, '127.0.0.1');
    let answer = '';
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - started, bytesSent, answer });
    };
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(
      'POST /input HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
    );
    timer = setInterval(() => {
      if (socket.destroyed || bytesSent >= 1000) return;
      socket.write('x');
      bytesSent++;
    }, everyMs);
  });
}

describe('gateway abuse bounds over real sockets', () => {
  let gateway: ServiceProcess;
  let gw = '';
  const alicePassword = 'correct horse battery staple';

  beforeAll(async () => {
    // Cheap scrypt parameters: the format is what production uses, the cost is the test's choice.
    const hash = await hashPassword(alicePassword, { N: 1024, r: 8, p: 1 });
    gateway = new ServiceProcess('gateway', {
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      JWT_SECRET: TEST_SECRET,
      ...serviceSecretsEnv('gateway'),
      AUTH_USERS: `alice:${hash}:alice`,
      MEMORY_SERVICE_URL: NOWHERE,
      COGNITION_SERVICE_URL: NOWHERE,
      PENDING_STORE_DIR: `${process.env.TMPDIR ?? '/tmp'}/abuse-bounds-${process.pid}`,
      RATE_LIMIT_PER_MINUTE: '5',
      RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '1000',
      LOGIN_MAX_PER_USERNAME: '3',
      LOGIN_MAX_PER_ADDRESS: '100',
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      SSE_MAX_CONNECTIONS: '3',
    });
    await gateway.start();
    gw = gateway.url;
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('forged tokens naming alice never spend her budget; her own requests do', async () => {
    for (let i = 0; i < 6; i++) {
      const token = i % 2 === 0 ? forged({ sub: 'alice' }) : forged({ sub: 'alice' }, 'none');
      const res = await http('GET', `${gw}/health/details`, { token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
    const alice = await signToken({ sub: 'alice' });
    for (let i = 0; i < 5; i++)
      expect((await http('GET', `${gw}/health/details`, { token: alice })).status).toBe(200);
    const limited = await http('GET', `${gw}/health/details`, { token: alice });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('gives no extra password guesses for a fresh forged identity per attempt', async () => {
    const attempt = (password: string, i: number) =>
      http('POST', `${gw}/auth/login`, {
        token: forged({ sub: `guesser-${i}` }),
        headers: { 'x-forwarded-for': `198.51.100.${i}` },
        body: { username: 'alice', password },
      });
    for (let i = 0; i < 3; i++) expect((await attempt(`guess-${i}`, i)).status).toBe(401);
    // Even the right password is refused now: the guesses are spent, whoever claimed to send them.
    const limited = await attempt(alicePassword, 3);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('cuts a request whose body trickles in at REQUEST_TIMEOUT_MS', async () => {
    const { ms, bytesSent, answer } = await trickle(gateway.port, 250);
    // Node checks on an interval the gateway sets to a quarter of the timeout: generous bounds,
    // the point is "cut in seconds, not held open for the 250 s the body would take".
    expect(ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(15_000);
    expect(bytesSent).toBeLessThan(100);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    // The contract's error body and request id, not the framework's own body.
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    const requestId = /^x-request-id: *(.+)$/im.exec(head)?.[1]?.trim();
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(head).toMatch(/^connection: *close$/im);
    expect(JSON.parse(body).error).toMatchObject({ code: 'request_timeout', request_id: requestId });
    console.log(`[abuse] trickled body cut after ${ms} ms, ${bytesSent} of 1000 bytes sent`);
  });

  it('caps open streams per process with the error body and Retry-After', async () => {
    const streams: SseRecorder[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const token = await signToken({ sub: `streamer-${i}` });
        const s = await SseRecorder.open(`${gw}/output/stream`, { authorization: `Bearer ${token}` });
        streams.push(s);
        expect(s.status).toBe(200);
        await s.waitFor((e) => e.some((x) => x.data.type === 'connection_established'));
      }
      const extra = await SseRecorder.open(`${gw}/output/stream`, {
        authorization: `Bearer ${await signToken({ sub: 'streamer-3' })}`,
      });
      expect(extra.status).toBe(429);
      expect(extra.headers['retry-after']).toBeDefined();
      expect(extra.events[0]?.data.error).toMatchObject({ code: 'too_many_connections' });
    } finally {
      for (const s of streams) s.close();
    }
  });

  it('ends a stream when its token expires, with a token_expired error event', async () => {
    const token = await signToken({ sub: 'short-lived' }, { expiresIn: '3s' });
    const exp = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp as number;
    // Streams from the previous test may still be closing: the cap is 3.
    let s: SseRecorder | undefined;
    for (let i = 0; i < 50; i++) {
      s = await SseRecorder.open(`${gw}/output/stream`, { authorization: `Bearer ${token}` });
      if (s.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const stream = s as SseRecorder;
    expect(stream.status).toBe(200);
    await stream.waitFor((e) => e.some((x) => x.data.code === 'token_expired'), 20_000, 'token_expired');
    const endedAt = Date.now();
    // Not before the token's own expiry (second resolution), and then the stream closes.
    expect(endedAt).toBeGreaterThanOrEqual(exp * 1000 - 1000);
    const last = stream.events.at(-1)?.data;
    expect(last).toMatchObject({ type: 'error', code: 'token_expired' });
    await stream.waitFor(() => stream.closed, 5000, 'the stream to close');
    // The same token cannot open a new one; a fresh token for the same user can.
    const again = await SseRecorder.open(`${gw}/output/stream`, { authorization: `Bearer ${token}` });
    expect(again.status).toBe(401);
    const fresh = await SseRecorder.open(`${gw}/output/stream?last_event_id=0`, {
      authorization: `Bearer ${await signToken({ sub: 'short-lived' })}`,
    });
    expect(fresh.status).toBe(200);
    fresh.close();
  });

  it('says only statuses on the open /health, details for signed-in users', async () => {
    const health = await http('GET', `${gw}/health`);
    expect(Object.keys(health.body).sort()).toEqual(['dependencies', 'status']);
    for (const dep of Object.values(health.body.dependencies as Record<string, object>))
      expect(Object.keys(dep)).toEqual(['status']);
    expect(JSON.stringify(health.body)).not.toContain('127.0.0.1');
    expect((await http('GET', `${gw}/health/details`)).status).toBe(401);
    const details = await http('GET', `${gw}/health/details`, { token: await signToken({ sub: 'ops' }) });
    expect(details.body.dependencies.memory).toHaveProperty('circuit');
  });

  it('answers a malformed path with the error body, and never logs a token however its key is encoded', async () => {
    const bad = await http('GET', `${gw}/analysis/%FF`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const token = await signToken({ sub: 'logged' });
    const lines: string[] = [];
    const stop = gateway.onLog((l) => lines.push(l));
    for (const key of ['%74oken', 'tok%65n', 'token'])
      await http('GET', `${gw}/output/stream?a=1&${key}=${token}&last_event_id=x`);
    await new Promise((r) => setTimeout(r, 300));
    stop();
    expect(lines.some((l) => l.includes('[redacted]'))).toBe(true);
    expect(lines.join('\n')).not.toContain(token);
  });
});

describe('gateway start-up refusals', () => {
  const refused = async (env: Record<string, string>) => {
    const p = new ServiceProcess('gateway', {
      MEMORY_SERVICE_URL: NOWHERE,
      COGNITION_SERVICE_URL: NOWHERE,
      PENDING_STORE_DIR: `${process.env.TMPDIR ?? '/tmp'}/abuse-refused-${process.pid}`,
      ...env,
    });
    const err = await p.start(60_000).then(
      () => undefined,
      (e: Error) => e,
    );
    if (p.running) await p.stop();
    return err?.message ?? 'started';
  };

  it('refuses a short JWT_SECRET without printing it, and an unknown NODE_ENV', async () => {
    const short = await refused({ JWT_SECRET: 'hunter2-short' });
    expect(short).toMatch(/exited \(1\)/);
    expect(short).toMatch(/invalid environment variable JWT_SECRET/);
    expect(short).not.toContain('hunter2');
    const prod = await refused({ NODE_ENV: 'prod', JWT_SECRET: TEST_SECRET });
    expect(prod).toMatch(/invalid environment variable NODE_ENV/);
    const capital = await refused({ NODE_ENV: 'Production' });
    expect(capital).toMatch(/JWT_SECRET \(unset\): is required in production/);
  });
});
