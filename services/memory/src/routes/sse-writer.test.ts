import { once } from 'node:events';
import { Socket } from 'node:net';
import sse from '@fastify/sse';
import Fastify from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { dataFrame, sseWriter } from './sse-writer';

const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

it('stops waiting for a backed-up client once it is gone, leaving no listener behind', async () => {
  let frames = 0;
  let listenersLeft = -1;
  let finished!: () => void;
  const handlerDone = new Promise<void>((r) => {
    finished = r;
  });
  const app = Fastify();
  apps.push(app);
  await app.register(sse);
  app.get('/big', { sse: { kind: 'only', heartbeat: false } }, async (_request, reply) => {
    const out = sseWriter(reply);
    out.start();
    const chunk = dataFrame({ pad: 'x'.repeat(64 * 1024) });
    try {
      while (!out.signal.aborted) {
        await out.write(chunk);
        frames++;
      }
    } finally {
      listenersLeft = reply.raw.listenerCount('drain');
      out.end();
      finished();
    }
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  // A client that asks and never reads: the server's socket backs up and stops draining.
  const client = new Socket();
  client.on('error', () => {});
  client.connect((app.server.address() as { port: number }).port, '127.0.0.1');
  await once(client, 'connect');
  client.write('GET /big HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
  client.pause();
  while (frames < 5) await new Promise((r) => setTimeout(r, 10));
  const stuckAt = frames;
  await new Promise((r) => setTimeout(r, 100));
  expect(frames - stuckAt).toBeLessThan(3); // waiting on drain, not spinning
  client.destroy();
  await handlerDone;
  expect(listenersLeft).toBe(0);
});
