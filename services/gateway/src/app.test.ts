import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGatewayApp } from './app';
import { loadGatewayEnv } from './env';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A port nothing listens on: dependencies that are simply not there. */
async function closedPort() {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

async function gateway(extra: Record<string, string> = {}): Promise<FastifyInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-'));
  const port = await closedPort();
  const env = loadGatewayEnv({
    LOG_LEVEL: 'silent',
    JWT_SECRET: 'unit-test-secret-0123456789',
    MEMORY_SERVICE_URL: `http://127.0.0.1:${port}`,
    COGNITION_SERVICE_URL: `http://127.0.0.1:${port}`,
    PENDING_STORE_DIR: dir,
    AUTH_USERS: 'ann:pw1:ann-id',
    ...extra,
  });
  const app = await buildGatewayApp({ env });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => app.close());
  return app;
}

async function login(app: FastifyInstance) {
  const res = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: 'ann', password: 'pw1' },
  });
  return res.json().access_token as string;
}

describe('gateway app', () => {
  it('issues tokens for configured users, from JSON or a form', async () => {
    const app = await gateway();
    const json = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'ann', password: 'pw1' },
    });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ token_type: 'bearer', user_id: 'ann-id' });
    const form = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=ann&password=pw1',
    });
    expect(form.statusCode).toBe(200);
    const wrong = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'ann', password: 'nope' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('unauthorized');
    const missing = await app.inject({ method: 'POST', url: '/auth/login', payload: { password: 'x' } });
    expect(missing.statusCode).toBe(400);
    const dashboard = await app.inject({
      url: '/dashboard',
      headers: { authorization: `Bearer ${json.json().access_token}` },
    });
    expect(dashboard.json().profile).toEqual({ user_id: 'ann-id', name: 'ann', email: null });
  });

  it('journals input while memory is unreachable, and says not stored when the journal is full', async () => {
    const app = await gateway({ PENDING_MAX_ITEMS: '1' });
    const token = await login(app);
    const post = (content: string) =>
      app.inject({
        method: 'POST',
        url: '/input',
        headers: { authorization: `Bearer ${token}` },
        payload: { content },
      });
    const first = await post('one');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'received_storage_pending', data: { content: 'one' } });
    const second = await post('two');
    expect(second.statusCode).toBe(200);
    expect(second.json().status).toBe('received_not_stored');
    const details = await app.inject({
      url: '/health/details',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(details.statusCode).toBe(200);
    expect(details.json()).toMatchObject({
      status: 'warning',
      dependencies: { memory: { status: 'unhealthy' }, pending_store: { items: 1, status: 'warning' } },
    });
  });

  it('says only statuses on the open /health; details need a signed-in user', async () => {
    const app = await gateway();
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    const body = health.json();
    expect(Object.keys(body).sort()).toEqual(['dependencies', 'status']);
    expect(body.status).toBe('warning');
    for (const [name, dep] of Object.entries(body.dependencies as Record<string, object>))
      expect(Object.keys(dep), name).toEqual(['status']);
    expect(Object.keys(body.dependencies).sort()).toEqual([
      'cognition',
      'memory',
      'pending_store',
      'streams',
    ]);
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|circuit|items|connections/);
    const anonymous = await app.inject({ url: '/health/details' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe('unauthorized');
    const token = await login(app);
    const details = await app.inject({
      url: '/health/details',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(details.json().dependencies.memory).toHaveProperty('circuit');
    expect(details.json().dependencies.pending_store).toHaveProperty('items', 0);
  });

  it('serves the dashboard with failed sections named, not failed as a whole', async () => {
    const app = await gateway();
    const token = await login(app);
    const res = await app.inject({ url: '/dashboard', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      history: { items: [], count: 0 },
      context: { context: [], count: 0 },
    });
    // Refused outright, or refused by the breaker once the refusals opened it (the event feed
    // subscription also calls memory): either way the section is named, not the request failed.
    const { errors } = res.json();
    expect(Object.keys(errors).sort()).toEqual(['context', 'history']);
    for (const code of Object.values(errors)) expect(['connection', 'circuit_open']).toContain(code);
  });

  it('rate-limits per user with the error body and Retry-After', async () => {
    const app = await gateway({ RATE_LIMIT_PER_MINUTE: '3' });
    const token = await login(app);
    const get = () => app.inject({ url: '/dashboard', headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i++) expect((await get()).statusCode).toBe(200);
    const limited = await get();
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Health stays reachable for the orchestrator, however busy the client.
    for (let i = 0; i < 5; i++) expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
  });

  it('refuses a Last-Event-ID that is not one of ours', async () => {
    const app = await gateway();
    const token = await login(app);
    const res = await app.inject({
      url: `/output/stream?token=${token}`,
      headers: { accept: 'text/event-stream', 'last-event-id': 'abc' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_request');
  });

  it('answers /history and /context with fallbacks while memory and cognition are away', async () => {
    const app = await gateway();
    const headers = { authorization: `Bearer ${await login(app)}` };
    const input = await app.inject({
      method: 'POST',
      url: '/input',
      headers,
      payload: { content: 'held note' },
    });
    expect(input.json().status).toBe('received_storage_pending');
    const history = await app.inject({ url: '/history', headers });
    expect(history.statusCode).toBe(200);
    expect(history.json()).toEqual({
      items: [expect.objectContaining({ id: input.json().item_id, content: 'held note', pending: true })],
      count: 1,
      fallback: true,
    });
    const context = await app.inject({ url: '/context?query=note', headers });
    expect(context.statusCode).toBe(200);
    expect(context.json()).toEqual({
      context: [],
      user_id: 'ann-id',
      query: 'note',
      count: 0,
      fallback: true,
    });
    const noQuery = await app.inject({ url: '/context', headers });
    expect(noQuery.json()).toMatchObject({ query: null, fallback: true });
    // Bad input is still the caller's 400, never hidden behind a fallback.
    expect((await app.inject({ url: '/history?limit=0', headers })).statusCode).toBe(400);
    // The calls that failed show in each dependency's recent figures (details: signed-in only).
    const health = (await app.inject({ url: '/health/details', headers })).json();
    expect(health.dependencies.memory.recent).toMatchObject({ window_s: 60 });
    expect(health.dependencies.memory.recent.requests).toBeGreaterThanOrEqual(2);
    expect(health.dependencies.memory.recent.error_rate).toBe(1);
    expect(health.dependencies.cognition.recent.errors).toBeGreaterThanOrEqual(2);
  });
});

/** An HS256 token as anyone can make one without the secret: a payload and a bogus signature. */
function forged(claims: Record<string, unknown>) {
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ exp: Math.floor(Date.now() / 1000) + 600, ...claims })}.c2ln`;
}

describe('gateway abuse bounds', () => {
  it('never lets forged tokens naming alice spend alice’s budget', async () => {
    const app = await gateway({ RATE_LIMIT_PER_MINUTE: '3', AUTH_USERS: 'ann:pw1:alice' });
    const asForged = () =>
      app.inject({
        url: '/history',
        headers: { authorization: `Bearer ${forged({ sub: 'alice', oid: 'alice' })}` },
      });
    for (let i = 0; i < 6; i++) expect((await asForged()).statusCode).toBe(401);
    const token = await login(app);
    const get = () => app.inject({ url: '/dashboard', headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i++) expect((await get()).statusCode).toBe(200);
    // Her own budget still applies to her own requests.
    expect((await get()).statusCode).toBe(429);
  });

  it('limits requests per client address before authentication, trusting forwarded headers only when told', async () => {
    const untrusting = await gateway({ RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '2' });
    const from = (app: FastifyInstance, remoteAddress: string, forwarded?: string) =>
      app.inject({
        url: '/history',
        remoteAddress,
        headers: forwarded ? { 'x-forwarded-for': forwarded } : {},
      });
    expect((await from(untrusting, '10.0.0.1', '1.1.1.1')).statusCode).toBe(401);
    expect((await from(untrusting, '10.0.0.1', '2.2.2.2')).statusCode).toBe(401);
    // A made-up X-Forwarded-For does not buy a fresh bucket when no proxy is trusted.
    const limited = await from(untrusting, '10.0.0.1', '3.3.3.3');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await from(untrusting, '10.0.0.2')).statusCode).toBe(401);
    // The health check is never limited.
    expect((await untrusting.inject({ url: '/health', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);

    const behindProxy = await gateway({ RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '2', TRUST_PROXY: '1' });
    for (let i = 0; i < 2; i++) expect((await from(behindProxy, '10.0.0.1', '1.1.1.1')).statusCode).toBe(401);
    expect((await from(behindProxy, '10.0.0.1', '1.1.1.1')).statusCode).toBe(429);
    // Another client behind the same proxy has its own bucket.
    expect((await from(behindProxy, '10.0.0.1', '2.2.2.2')).statusCode).toBe(401);
  });

  it('limits login attempts per user, whatever token or name variant comes along', async () => {
    const app = await gateway({ LOGIN_MAX_PER_USERNAME: '3', LOGIN_MAX_PER_ADDRESS: '100' });
    const attempt = (password: string, i: number, username = 'ann') =>
      app.inject({
        method: 'POST',
        url: '/auth/login',
        remoteAddress: `10.0.1.${i}`,
        // A fresh forged identity per attempt changes nothing: login is not keyed by tokens.
        headers: { authorization: `Bearer ${forged({ sub: `guess-${i}` })}` },
        payload: { username, password },
      });
    for (let i = 0; i < 2; i++) expect((await attempt(`wrong-${i}`, i)).statusCode).toBe(401);
    // By user id instead of name: the same user, the same bucket.
    expect((await attempt('wrong-2', 2, 'ann-id')).statusCode).toBe(401);
    const limited = await attempt('pw1', 3);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(200);
  });

  it('limits login attempts per address across usernames', async () => {
    const app = await gateway({ LOGIN_MAX_PER_USERNAME: '100', LOGIN_MAX_PER_ADDRESS: '3' });
    const attempt = (username: string, remoteAddress = '10.0.2.1') =>
      app.inject({ method: 'POST', url: '/auth/login', remoteAddress, payload: { username, password: 'x' } });
    for (const name of ['a', 'b', 'c']) expect((await attempt(name)).statusCode).toBe(401);
    const limited = await attempt('ann');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await attempt('ann', '10.0.2.2')).statusCode).toBe(401);
  });

  it('refreshes a token it issued, keeping the sign-in time, and not a forged or foreign one', async () => {
    const app = await gateway({ SESSION_MAX_S: '3600' });
    const token = await login(app);
    const res = await app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    const fresh = res.json().access_token as string;
    const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString());
    expect(claims(fresh)).toMatchObject({ oid: 'ann-id', auth_time: claims(token).auth_time });
    const forgedRefresh = await app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { authorization: `Bearer ${forged({ oid: 'ann-id', auth_time: 0 })}` },
    });
    expect(forgedRefresh.statusCode).toBe(401);
  });

  it('answers a path that is not valid percent-encoding with the error body', async () => {
    const app = await gateway();
    const res = await app.inject({ url: '/analysis/%FF' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_request');
  });
});
