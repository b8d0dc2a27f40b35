import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Callee, type Caller, verifiedCaller } from './service-tokens';

/** How the impostor answers tool calls and resources (never `/health`, see `healthy`). */
export type ImpostorFault =
  /** Behave like a minimal, correct memory (and cognition): store, read back, feed. */
  | { kind: 'ok' }
  /** Answer this status, with `Retry-After` when `retryAfterS` is set, with the error body or plain text. */
  | { kind: 'status'; status: number; retryAfterS?: number; errorBody?: boolean }
  /** 200 with a body that is not JSON (tools) or an SSE `data:` line that is not JSON (resources). */
  | { kind: 'malformed-json' }
  /** 200, valid JSON, wrong shape: a tool result without the expected fields, resource items likewise. */
  | { kind: 'wrong-shape' }
  /** 200 without `result` (tools), a resource that ends without its end marker. */
  | { kind: 'truncated' };

export interface SeenRequest {
  method: string;
  /** Without the query string. */
  path: string;
  query: URLSearchParams;
  requestId: string | undefined;
  /** `input_data.id` of a `store_input` call. */
  itemId: string | undefined;
  /** Every item id the request carries (`store_input`, or each of a `store_inputs` batch). */
  itemIds: string[];
  /** performance.now() when the request arrived and when its answer was sent. */
  arrivedAt: number;
  answeredAt: number | undefined;
  status: number | undefined;
  /** The Retry-After this answer carried, in ms. */
  retryAfterMs: number | undefined;
  /** The service whose valid service token the request carried (undefined: refused with 401). */
  caller: Caller | undefined;
}

interface StoredItem {
  seq: number;
  user_id: string;
  id: string;
  conversation_id: string | null;
  content: string;
  timestamp: string;
  metadata: Record<string, unknown>;
}

/**
 * A stand-in for memory (or cognition) over plain node:http, for protocol faults the real services
 * never produce: 5xx with and without Retry-After, bodies that are not JSON, wrong shapes, streams
 * without their end marker. It counts and timestamps every request, so tests can count the
 * attempts a client made and the spacing between them. Like the real services it refuses, with
 * 401, every request but `/health` that lacks a valid service token addressed to it, so every
 * scenario run against it also proves that the callers sign every call.
 */
export class Impostor {
  /** The service it plays: the audience its callers' tokens must name. */
  service: Callee = 'memory';
  fault: ImpostorFault | ((request: SeenRequest) => ImpostorFault) = { kind: 'ok' };
  /** What `/health` says; by default healthy exactly when the fault is `ok`. */
  healthy: boolean | undefined;
  readonly requests: SeenRequest[] = [];
  /** Item id → stored item (the `ok` behaviour's store). */
  readonly items = new Map<string, StoredItem>();
  /** Items of `store_input`/`store_inputs` calls answered `stored` or `already_exists`. */
  storeAnswers = { stored: 0, already_exists: 0 };
  private seq = 0;
  private readonly followers = new Set<(item: StoredItem) => void>();
  private server: Server | undefined;
  port = 0;

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * `keepAliveTimeoutMs`: how long an idle connection stays open (5 s; a bench that must not count
   * reconnects passes more).
   */
  static async start(fault?: ImpostorFault, options: { service?: Callee; keepAliveTimeoutMs?: number } = {}) {
    const impostor = new Impostor();
    if (fault) impostor.fault = fault;
    if (options.service) impostor.service = options.service;
    const server = createServer((req, res) => {
      // A bug here must show as an answer, not as a hang the gateway would time out on.
      impostor.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`impostor failed: ${String(err)}`);
      });
    });
    server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    impostor.port = typeof address === 'object' && address ? address.port : 0;
    impostor.server = server;
    return impostor;
  }

  /** Requests for one tool (`store_input`) or resource path prefix (`/resource/history`). */
  calls(toolOrPath: string): SeenRequest[] {
    const path = toolOrPath.startsWith('/') ? toolOrPath : `/tool/${toolOrPath}`;
    return this.requests.filter((r) =>
      toolOrPath.startsWith('/') ? r.path.startsWith(path) : r.path === path,
    );
  }

  /** Requests that tried to store inputs, single or batched. */
  storeCalls(): SeenRequest[] {
    return this.requests.filter((r) => r.path === '/tool/store_input' || r.path === '/tool/store_inputs');
  }

  /** Requests so far of one kind (see `kindOf`). */
  hitsOf(kind: RequestKind): number {
    return this.requests.filter((r) => kindOf(r.path) === kind).length;
  }

  /** Counts per kind so far, to subtract from a later snapshot. */
  snapshot(): Map<RequestKind, number> {
    const counts = new Map<RequestKind, number>();
    for (const r of this.requests) counts.set(kindOf(r.path), (counts.get(kindOf(r.path)) ?? 0) + 1);
    return counts;
  }

  reset() {
    this.requests.length = 0;
    this.storeAnswers = { stored: 0, already_exists: 0 };
  }

  async close() {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://impostor');
    let raw = '';
    for await (const chunk of req) raw += chunk;
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {}
    const args = ((body as { arguments?: unknown })?.arguments ?? body) as
      | Record<string, unknown>
      | undefined;
    const itemIdOf = (a: unknown) => (a as { input_data?: { id?: string } } | undefined)?.input_data?.id;
    const batch = Array.isArray(args?.items) ? (args.items as unknown[]) : undefined;
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      requestId: header(req, 'x-request-id'),
      itemId: itemIdOf(args),
      itemIds: (batch ?? [args]).map(itemIdOf).filter((id): id is string => typeof id === 'string'),
      arrivedAt: performance.now(),
      answeredAt: undefined,
      status: undefined,
      retryAfterMs: undefined,
      caller: undefined,
    };
    this.requests.push(seen);
    const answer = (status: number, contentType: string, text: string, retryAfterS?: number) => {
      seen.status = status;
      const headers: Record<string, string> = { 'content-type': contentType };
      if (retryAfterS !== undefined) {
        headers['retry-after'] = String(retryAfterS);
        seen.retryAfterMs = retryAfterS * 1000;
      }
      seen.answeredAt = performance.now();
      res.writeHead(status, headers);
      res.end(text);
    };
    if (url.pathname === '/health') {
      const healthy = this.healthy ?? this.currentFault(seen).kind === 'ok';
      return answer(
        healthy ? 200 : 503,
        'application/json',
        JSON.stringify({ status: healthy ? 'healthy' : 'unhealthy' }),
      );
    }
    seen.caller = await verifiedCaller(header(req, 'authorization'), this.service);
    if (!seen.caller) {
      return answer(
        401,
        'application/json',
        JSON.stringify({
          error: {
            code: 'unauthorized',
            message: 'impostor: no valid service token',
            request_id: seen.requestId ?? 'none',
            timestamp: new Date().toISOString(),
          },
        }),
      );
    }
    const fault = this.currentFault(seen);
    const isResource = url.pathname.startsWith('/resource/');
    switch (fault.kind) {
      case 'status': {
        const code = fault.status === 503 ? 'service_unavailable' : 'tool_execution_error';
        const text = fault.errorBody
          ? JSON.stringify({
              error: {
                code,
                message: 'impostor failure',
                request_id: seen.requestId ?? 'none',
                timestamp: new Date().toISOString(),
              },
            })
          : 'Service Unavailable';
        return answer(
          fault.status,
          fault.errorBody ? 'application/json' : 'text/plain',
          text,
          fault.retryAfterS,
        );
      }
      case 'malformed-json':
        return isResource
          ? answer(200, 'text/event-stream', 'data: {"id": "x", oops\n\n')
          : answer(200, 'application/json', '{"result": {"status": "sto');
      case 'wrong-shape':
        return isResource
          ? answer(200, 'text/event-stream', 'data: {"unexpected": true}\n\ndata: {"end": true}\n\n')
          : answer(200, 'application/json', JSON.stringify({ result: { status: 'maybe', item: 42 } }));
      case 'truncated':
        return isResource
          ? answer(200, 'text/event-stream', 'data: {"type": "position", "seq": 0}\n\n')
          : answer(200, 'application/json', JSON.stringify({ answer: 'no result here' }));
      case 'ok':
        return this.behave(seen, args, res, answer);
    }
  }

  private currentFault(seen: SeenRequest): ImpostorFault {
    return typeof this.fault === 'function' ? this.fault(seen) : this.fault;
  }

  /** A minimal correct memory and cognition: enough for the gateway to store, read and follow. */
  private behave(
    seen: SeenRequest,
    args: Record<string, unknown> | undefined,
    res: ServerResponse,
    answer: (status: number, contentType: string, text: string) => void,
  ) {
    const json = (result: unknown) => answer(200, 'application/json', JSON.stringify({ result }));
    if (seen.path === '/tool/store_input') return json(this.store(args));
    if (seen.path === '/tool/store_inputs') {
      return json({ results: ((args?.items ?? []) as Record<string, unknown>[]).map((i) => this.store(i)) });
    }
    if (seen.path === '/tool/get_context') {
      return json({ context: [], user_id: args?.user_id, query: args?.query ?? null, count: 0 });
    }
    if (seen.path.startsWith('/resource/history/')) {
      const user = decodeURIComponent(seen.path.slice('/resource/history/'.length));
      const limit = Number(seen.query.get('limit') ?? 50);
      const mine = [...this.items.values()]
        .filter((i) => i.user_id === user)
        .reverse()
        .slice(0, limit);
      const frames = mine.map((i) => `data: ${JSON.stringify(i)}\n\n`).join('');
      return answer(200, 'text/event-stream', `${frames}data: {"end": true}\n\n`);
    }
    if (seen.path === '/resource/events') return this.feed(seen, res);
    return answer(
      404,
      'application/json',
      JSON.stringify({ error: { code: 'tool_not_found', message: 'no such tool' } }),
    );
  }

  /** `store_input`'s answer for one `{user_id, input_data}`, idempotent on the item id. */
  private store(args: Record<string, unknown> | undefined) {
    const userId = String(args?.user_id);
    const data = (args?.input_data ?? {}) as Record<string, unknown>;
    const id = String(data.id);
    if (this.items.has(id)) {
      this.storeAnswers.already_exists++;
      return { status: 'already_exists', user_id: userId, item_id: id };
    }
    const item: StoredItem = {
      seq: ++this.seq,
      user_id: userId,
      id,
      conversation_id: (data.conversation_id as string | null | undefined) ?? null,
      content: String(data.content),
      timestamp: String(data.timestamp ?? new Date().toISOString()),
      metadata: (data.metadata as Record<string, unknown> | undefined) ?? {},
    };
    this.items.set(id, item);
    this.storeAnswers.stored++;
    for (const f of this.followers) f(item);
    return { status: 'stored', user_id: userId, item_id: id, seq: item.seq };
  }

  private feed(seen: SeenRequest, res: ServerResponse) {
    const after = Number(seen.query.get('after') ?? this.seq);
    const frame = (i: StoredItem) => `id: ${i.seq}\ndata: ${JSON.stringify({ type: 'input', ...i })}\n\n`;
    seen.status = 200;
    seen.answeredAt = performance.now();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`id: ${after}\ndata: ${JSON.stringify({ type: 'position', seq: after })}\n\n`);
    for (const i of this.items.values()) if (i.seq > after) res.write(frame(i));
    if (seen.query.get('follow') === 'false') {
      res.end(`data: ${JSON.stringify({ end: true, last_seq: this.seq })}\n\n`);
      return;
    }
    const follower = (i: StoredItem) => res.write(frame(i));
    const ping = setInterval(() => res.write(': ping\n\n'), 1000);
    this.followers.add(follower);
    res.once('close', () => {
      clearInterval(ping);
      this.followers.delete(follower);
    });
  }
}

export type RequestKind = 'history' | 'events' | 'health' | 'other';

/** `history` (what GET /history calls), `events` (the gateway's feed), `health`, or `other`. */
function kindOf(path: string): RequestKind {
  if (path.startsWith('/resource/history/')) return 'history';
  if (path.startsWith('/resource/events')) return 'events';
  if (path.startsWith('/health')) return 'health';
  return 'other';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
