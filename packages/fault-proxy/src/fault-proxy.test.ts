import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy';

let echo: Server;
let proxy: FaultProxy;

async function startEcho() {
  echo = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  return (echo.address() as { port: number }).port;
}

function roundTrip(port: number, payload = 'ping'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    s.on('error', (e) => reject(e));
    s.connect(port, '127.0.0.1', () => s.write(payload));
    s.once('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
  });
}

afterEach(async () => {
  await proxy?.close();
  await new Promise((r) => echo.close(r));
});

describe('FaultProxy', () => {
  it('forwards, then refuses while down, then forwards again on the same port', async () => {
    proxy = await FaultProxy.start({ port: await startEcho() });
    expect(await roundTrip(proxy.port)).toBe('ping');
    const port = proxy.port;
    await proxy.down();
    await expect(roundTrip(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.up();
    expect(proxy.port).toBe(port);
    expect(await roundTrip(port)).toBe('ping');
  });

  it('resets connections that carry data when reset_peer is on', async () => {
    proxy = await FaultProxy.start({ port: await startEcho() });
    proxy.set({ resetPeer: true });
    await expect(roundTrip(proxy.port)).rejects.toMatchObject({ code: 'ECONNRESET' });
    proxy.set({});
    expect(await roundTrip(proxy.port)).toBe('ping');
  });

  it('in a partition, a server never hears of a client that gave up, until down()', async () => {
    let serverSide: Socket | undefined;
    echo = createServer((s) => {
      serverSide = s;
      s.on('error', () => {});
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    proxy = await FaultProxy.start({ port: (echo.address() as { port: number }).port });
    const client = new Socket();
    client.on('error', () => {});
    client.connect(proxy.port, '127.0.0.1');
    await once(client, 'connect');
    while (!serverSide) await new Promise((r) => setTimeout(r, 5));
    proxy.set({ partition: true });
    let serverGotData = false;
    serverSide.on('data', () => {
      serverGotData = true;
    });
    client.write('lost');
    client.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(serverGotData).toBe(false);
    expect(serverSide.destroyed).toBe(false);
    const closed = new Promise((r) => serverSide?.once('close', r)); // after a reset, not an error
    await proxy.down();
    await closed;
  });

  it('swallows data when blackholed', async () => {
    proxy = await FaultProxy.start({ port: await startEcho() });
    proxy.set({ blackhole: true });
    const outcome = await Promise.race([
      roundTrip(proxy.port),
      new Promise((r) => setTimeout(() => r('no answer'), 300)),
    ]);
    expect(outcome).toBe('no answer');
  });

  it('adds latency', async () => {
    proxy = await FaultProxy.start({ port: await startEcho() });
    proxy.set({ latencyMs: 150 });
    const started = performance.now();
    expect(await roundTrip(proxy.port)).toBe('ping');
    // Both directions are delayed: at least two latencies, whatever the machine's speed.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });
});

describe('FaultProxy ordering', () => {
  it('keeps bytes in order under jitter', async () => {
    proxy = await FaultProxy.start({ port: await startEcho() });
    proxy.set({ latencyMs: 1, jitterMs: 20 });
    const received = await new Promise<string>((resolve, reject) => {
      const s = new Socket();
      let got = '';
      const expected = Array.from({ length: 200 }, (_, i) => `${i};`).join('');
      s.on('error', reject);
      s.on('data', (d) => {
        got += d.toString();
        if (got.length >= expected.length) {
          s.destroy();
          resolve(got);
        }
      });
      s.connect(proxy.port, '127.0.0.1', async () => {
        for (let i = 0; i < 200; i++) {
          s.write(`${i};`);
          if (i % 10 === 0) await new Promise((r) => setImmediate(r));
        }
      });
    });
    expect(received).toBe(Array.from({ length: 200 }, (_, i) => `${i};`).join(''));
  });
});
