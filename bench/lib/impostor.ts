import { once } from 'node:events';
import { createServer, type Server } from 'node:http';

/**
 * A "memory" that is up but broken: every request gets 503 with an error body and no
 * Retry-After, so nothing tells the caller when to come back. Requests are counted by kind.
 */
export class Impostor {
  readonly hits = new Map<string, number>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<Impostor> {
    let impostor: Impostor | undefined;
    const server = createServer((req, res) => {
      impostor?.count(kindOf(req.url ?? '/'));
      // Drain the body so keep-alive connections stay usable.
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              code: 'service_unavailable',
              message: 'impostor',
              request_id: 'x',
              timestamp: new Date().toISOString(),
            },
          }),
        );
      });
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    impostor = new Impostor(server, typeof address === 'object' && address ? address.port : 0);
    return impostor;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  count(kind: string) {
    this.hits.set(kind, (this.hits.get(kind) ?? 0) + 1);
  }

  hitsOf(kind: string) {
    return this.hits.get(kind) ?? 0;
  }

  /** Counts so far, to subtract from a later snapshot. */
  snapshot(): Map<string, number> {
    return new Map(this.hits);
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** `history` (what GET /history calls), `events` (the gateway's feed), `health`, or `other`. */
export function kindOf(url: string): string {
  if (url.startsWith('/resource/history/')) return 'history';
  if (url.startsWith('/resource/events')) return 'events';
  if (url.startsWith('/health')) return 'health';
  return 'other';
}
