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
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({
      status: 'warning',
      dependencies: { memory: { status: 'unhealthy' }, pending_store: { items: 1, status: 'warning' } },
    });
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
    // The calls that failed show in each dependency's recent figures.
    const health = (await app.inject({ url: '/health' })).json();
    expect(health.dependencies.memory.recent).toMatchObject({ window_s: 60 });
    expect(health.dependencies.memory.recent.requests).toBeGreaterThanOrEqual(2);
    expect(health.dependencies.memory.recent.error_rate).toBe(1);
    expect(health.dependencies.cognition.recent.errors).toBeGreaterThanOrEqual(2);
  });
});
