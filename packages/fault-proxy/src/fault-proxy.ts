import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Faults shaped like toxiproxy's toxics, applied to new and (where it makes sense) open connections. */
export interface Faults {
  /** Added to every chunk in both directions, plus up to `jitterMs` at random. */
  latencyMs?: number;
  jitterMs?: number;
  /** Bytes per second in each direction; 0 or unset means unlimited. */
  bandwidthBytesPerSec?: number;
  /** Accept connections and swallow data: the peer sees a hang (toxiproxy "timeout" with 0). */
  blackhole?: boolean;
  /**
   * A network partition: like `blackhole`, and neither side hears of the other closing either, so
   * a server keeps the session of a client that gave up (until `down()`, `close()` or its own
   * timeouts end it).
   */
  partition?: boolean;
  /** Reset connections (RST) as soon as they carry data. */
  resetPeer?: boolean;
  /** Delay closing the downstream side after upstream closed. */
  slowCloseMs?: number;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

/**
 * A fault-injecting TCP proxy for tests: listens on a loopback port and forwards to `target`.
 * `down()` closes the listener and every connection (clients see ECONNREFUSED, like a stopped
 * server); `up()` listens again on the same port.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private faults: Faults = {};
  port = 0;
  connectionsAccepted = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly random: () => number = Math.random,
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(target: { host?: string; port: number }, port = 0) {
    const proxy = new FaultProxy({ host: target.host ?? '127.0.0.1', port: target.port });
    proxy.port = port;
    await proxy.up();
    return proxy;
  }

  /** Replaces the active faults; `{}` heals. Reset and blackhole also hit open connections. */
  set(faults: Faults) {
    this.faults = { ...faults };
    if (faults.resetPeer) for (const p of this.pairs) this.reset(p);
  }

  async up() {
    if (this.server) return;
    const server = createServer((client) => this.accept(client));
    server.listen(this.port, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (typeof address === 'object' && address) this.port = address.port;
    this.server = server;
  }

  /** Refuses new connections and cuts open ones, like a stopped server. */
  async down() {
    const server = this.server;
    this.server = undefined;
    for (const p of this.pairs) this.reset(p);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close() {
    await this.down();
  }

  private reset(p: Pair) {
    p.client.resetAndDestroy();
    p.upstream?.resetAndDestroy();
    this.pairs.delete(p);
  }

  private accept(client: Socket) {
    this.connectionsAccepted++;
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      if (this.faults.partition) return; // the upstream is left as it is; down() ends it
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    if (this.faults.resetPeer) {
      client.once('data', () => this.reset(pair));
      return;
    }
    if (this.faults.blackhole || this.faults.partition) {
      client.on('data', () => {});
      return;
    }
    const upstream = createConnection(this.target);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      if (this.faults.partition) return;
      const delay = this.faults.slowCloseMs ?? 0;
      if (delay > 0) setTimeout(() => client.end(), delay).unref();
      else client.end();
    });
    this.pipe(client, upstream, pair);
    this.pipe(upstream, client, pair);
  }

  private pipe(from: Socket, to: Socket, pair: Pair) {
    // One FIFO and one timer per direction: chunks leave in the order they came, whatever their
    // jitter (a timer per chunk reorders chunks whose release times fall in the same millisecond).
    const queue: { chunk: Buffer; at: number }[] = [];
    let releaseAt = 0;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const release = () => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer };
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(release, (queue[0] as { at: number }).at - now).unref();
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const f = this.faults;
      if (f.resetPeer) return this.reset(pair);
      if (f.blackhole || f.partition) return;
      const latency = (f.latencyMs ?? 0) + (f.jitterMs ? this.random() * f.jitterMs : 0);
      const transfer = f.bandwidthBytesPerSec ? (chunk.length / f.bandwidthBytesPerSec) * 1000 : 0;
      const now = Date.now();
      releaseAt = Math.max(now + latency, releaseAt) + transfer;
      if (releaseAt <= now && queue.length === 0) {
        to.write(chunk);
        return;
      }
      queue.push({ chunk, at: releaseAt });
      if (timer === undefined)
        timer = setTimeout(release, Math.max(0, (queue[0] as { at: number }).at - now)).unref();
    });
    from.on('end', () => {
      if (this.faults.partition) return;
      ended = true;
      if (queue.length === 0) to.end();
    });
  }
}
