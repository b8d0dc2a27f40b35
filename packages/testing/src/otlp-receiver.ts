import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as an OTLP/HTTP JSON export carries it, with its service's name beside it. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};
type KeyValue = { key: string; value: AnyValue };

const scalarOf = (v: AnyValue) =>
  v.stringValue ??
  (v.intValue === undefined ? undefined : Number(v.intValue)) ??
  v.boolValue ??
  v.doubleValue;
const attributesOf = (kvs: KeyValue[] | undefined) =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, scalarOf(kv.value)]));
// The JSON encoding carries ids as hex; base64 (protobuf's JSON mapping) is read too.
const hexId = (id: string | undefined) =>
  !id ? '' : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');

/**
 * A minimal OTLP/HTTP receiver (`POST /v1/traces`). By default it keeps `http/json` exports: the
 * services under test export their spans here (`OTEL_EXPORTER_OTLP_ENDPOINT`), and the test reads
 * them as they come; anything else (protobuf) is answered 415, so a wrong protocol shows as no
 * spans, not as noise. With `discard` (benches) it answers every export 200 in either encoding
 * and only counts requests and bytes: what tracing costs the exporting services, not the receiver.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  contentTypes = new Set<string>();
  /** Export requests and their body bytes, in either mode. */
  exports = 0;
  bytes = 0;

  private constructor(private readonly server: Server) {}

  static async start(options: { discard?: boolean } = {}): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        receiver.bytes += c.length;
        if (!options.discard) chunks.push(c);
      });
      req.on('end', () => {
        const type = String(req.headers['content-type'] ?? '');
        receiver.contentTypes.add(type);
        if (req.method === 'POST' && req.url === '/v1/traces') receiver.exports++;
        if (options.discard) {
          // An empty body is an empty ExportTraceServiceResponse in protobuf; `{}` in JSON.
          const json = type.startsWith('application/json');
          res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
          res.end(json ? '{}' : undefined);
          return;
        }
        if (req.method !== 'POST' || req.url !== '/v1/traces' || !type.startsWith('application/json')) {
          res.writeHead(415).end();
          return;
        }
        try {
          receiver.take(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url() {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  // biome-ignore lint/suspicious/noExplicitAny: an OTLP export request as JSON
  private take(body: any) {
    for (const rs of body.resourceSpans ?? []) {
      const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          this.spans.push({
            service,
            traceId: hexId(s.traceId),
            spanId: hexId(s.spanId),
            parentSpanId: hexId(s.parentSpanId),
            name: String(s.name),
            kind: Number(s.kind ?? 0),
            attributes: attributesOf(s.attributes),
            links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({
              traceId: hexId(l.traceId),
              spanId: hexId(l.spanId),
            })),
          });
    }
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  close() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
