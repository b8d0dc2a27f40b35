import { Agent, request as httpRequest } from 'node:http';
import type { ServiceClient } from '@cortex/network-client';
import { createServiceApp } from '@cortex/service-kit';
import { FakeClock } from '@cortex/testing';
import sse from '@fastify/sse';
import type { FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../stream/event-hub';
import { streamRoutes } from './stream';

const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stored = (seq: number, user = 'u') => ({
  type: 'input',
  seq,
  user_id: user,
  id: `i${seq}`,
  conversation_id: null,
  content: `c${seq}`,
  metadata: {},
  timestamp: '2026-01-01T00:00:00.000Z',
});

/** Memory's `events?follow=false` as the route reads it: a position, then at most `limit` rows. */
function fakeMemory(events: ReturnType<typeof stored>[], onPage?: () => void) {
  return {
    async *getResource(_path: string, options: { query: { after: number; limit: number } }) {
      onPage?.();
      const { after, limit } = options.query;
      yield { type: 'position', seq: after };
      for (const e of events.filter((x) => x.seq > after).slice(0, limit)) yield e;
    },
  } as unknown as ServiceClient;
}

async function server(options: {
  authDelayMs?: number;
  memory?: ServiceClient;
  maxBufferedBytes?: number;
  /** The sockets' high-water mark: Node's default is 16 KiB up to Node 20, 64 KiB since 22. */
  highWaterMark?: number;
  maxTotal?: number;
  clock?: FakeClock;
  /** The user each stream is opened for (by `x-user` header), and when its token expires. */
  expiresAt?: number;
}) {
  // The service app for its one error handler: refusals carry the error body and Retry-After.
  const app = createServiceApp({
    service: 'test',
    logLevel: 'silent',
    // Fastify passes `http` to node:http's createServer; its types only name it for http2 apps.
    ...(options.highWaterMark
      ? { fastify: { http: { highWaterMark: options.highWaterMark } } as unknown as Record<string, never> }
      : {}),
  });
  await app.register(sse);
  const hub = new EventHub(60_000);
  streamRoutes(app, {
    hub,
    memory: options.memory ?? fakeMemory([]),
    authenticate: async (request: FastifyRequest) => {
      if (options.authDelayMs) await sleep(options.authDelayMs);
      const id = (request.headers['x-user'] as string | undefined) ?? 'u';
      (request as { user: unknown }).user = { id, expiresAt: options.expiresAt };
    },
    maxPerUser: 2,
    maxTotal: options.maxTotal ?? 100,
    ...(options.clock ? { clock: options.clock } : {}),
    maxBufferedBytes: options.maxBufferedBytes ?? 256 * 1024,
    retryMs: 1000,
  });
  app.addHook('preClose', async () => hub.closeAll());
  await app.listen({ port: 0, host: '127.0.0.1' });
  apps.push(app);
  return { app, hub, port: (app.server.address() as { port: number }).port };
}

function open(port: number, headers: Record<string, string> = {}, agent?: Agent) {
  let body = '';
  const req = httpRequest({
    port,
    host: '127.0.0.1',
    path: '/output/stream',
    headers: { accept: 'text/event-stream', ...headers },
    ...(agent ? { agent } : {}),
  });
  const ended = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('close', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
  });
  req.end();
  const ids = () => [...body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  return { req, ended, body: () => body, ids };
}

describe('GET /output/stream', () => {
  it('forgets a client that left while it was being authenticated', async () => {
    const { hub, port } = await server({ authDelayMs: 100 });
    for (let i = 0; i < 2; i++) {
      const c = open(port);
      await sleep(20);
      c.req.destroy();
    }
    await sleep(250);
    expect(hub.count('u')).toBe(0);
    const third = open(port);
    await sleep(200);
    expect(third.body()).toContain('connection_established');
    third.req.destroy();
  });

  it.each([16 * 1024, 64 * 1024])(
    'replays a backlog longer than a page, in order, then goes live without a gap (socket high-water mark %i)',
    async (highWaterMark) => {
      const backlog = Array.from({ length: 2_500 }, (_, i) => stored(i + 1));
      let hub: EventHub | undefined;
      let pages = 0;
      const memory = fakeMemory(backlog, () => {
        // A live event arrives while the replay is being read.
        if (++pages === 2) hub?.publishStored('u', { id: 'live', type: 'input' } as never, 9_000);
      });
      const s = await server({ memory, maxBufferedBytes: 16 * 1024, highWaterMark });
      hub = s.hub;
      const c = open(s.port, { 'last-event-id': '0' });
      for (let i = 0; i < 100 && c.ids().length < 2_501; i++) await sleep(20);
      c.req.destroy();
      expect(c.ids()).toEqual([...backlog.map((e) => e.seq), 9_000]);
      expect(pages).toBe(3);
    },
  );

  it('lets the server close while a stream is still being authenticated', async () => {
    const { app, hub, port } = await server({ authDelayMs: 200 });
    // A client that would keep an idle connection for minutes: only the server closing the
    // socket lets app.close() finish within the test's timeout.
    const agent = new Agent({ keepAlive: true, timeout: 600_000 });
    const c = open(port, {}, agent);
    await sleep(50);
    await app.close();
    apps.splice(0);
    expect(await c.ended).toBe(200);
    expect(hub.size).toBe(0);
    agent.destroy();
  });

  it('caps open streams per process, across users, with the error body and Retry-After', async () => {
    const { hub, port } = await server({ maxTotal: 2 });
    const a = open(port, { 'x-user': 'a' });
    const b = open(port, { 'x-user': 'b' });
    for (let i = 0; i < 100 && hub.size < 2; i++) await sleep(10);
    expect(hub.size).toBe(2);
    const refused = await new Promise<{ status: number; retryAfter: unknown; body: string }>((resolve) => {
      const req = httpRequest({
        port,
        host: '127.0.0.1',
        path: '/output/stream',
        headers: { 'x-user': 'c' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }),
        );
      });
      req.end();
    });
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('5');
    expect(JSON.parse(refused.body).error.code).toBe('too_many_connections');
    a.req.destroy();
    for (let i = 0; i < 100 && hub.size > 1; i++) await sleep(10);
    const c = open(port, { 'x-user': 'c' });
    for (let i = 0; i < 100 && !c.body().includes('connection_established'); i++) await sleep(10);
    expect(c.body()).toContain('connection_established');
    b.req.destroy();
    c.req.destroy();
  });

  it('ends a stream with a token_expired error event when its token expires', async () => {
    const clock = new FakeClock(1_000_000);
    const { hub, port } = await server({ clock, expiresAt: 1_000_000 + 60_000 });
    const c = open(port);
    for (let i = 0; i < 100 && !c.body().includes('connection_established'); i++) await sleep(10);
    clock.advance(59_999);
    await sleep(50);
    expect(hub.size).toBe(1);
    expect(c.body()).not.toContain('token_expired');
    clock.advance(1);
    expect(await c.ended).toBe(200);
    const last = c.body().trim().split('\n\n').at(-1) ?? '';
    expect(JSON.parse(last.replace(/^data: /, ''))).toMatchObject({ type: 'error', code: 'token_expired' });
    expect(hub.size).toBe(0);
  });

  it('refuses to open a stream for a token that has already expired by the time it is set up', async () => {
    const clock = new FakeClock(1_000_000);
    const { hub, port } = await server({ clock, expiresAt: 1_000_000 });
    const c = open(port);
    expect(await c.ended).toBe(200);
    expect(c.body()).toContain('token_expired');
    expect(hub.size).toBe(0);
  });
});
