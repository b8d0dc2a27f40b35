import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServicePolicy } from '@cortex/resilience';
import { startTracing, type TracingHandle } from '@cortex/telemetry';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ServiceClient } from './service-client';

const exporter = new InMemorySpanExporter();
let handle: TracingHandle | undefined;
let server: Server;
let url: string;
const traceparents: string[] = [];
let calls = 0;

beforeAll(async () => {
  handle = await startTracing(
    { enabled: false, exporters: [], serviceName: 'test', protocol: 'http/json', endpoint: undefined },
    { spanProcessors: [new SimpleSpanProcessor(exporter)] },
  );
  // Fails the first attempt of every call with a 503, answers the retry.
  server = createServer((req, res) => {
    traceparents.push(String(req.headers.traceparent));
    req.resume();
    req.on('end', () => {
      const fail = calls++ % 2 === 0;
      res.writeHead(fail ? 503 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(fail ? { error: { code: 'service_unavailable', message: 'busy' } } : { result: 1 }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.close();
  await handle?.shutdown();
});

it('makes a span per call and per attempt, with retry, circuit, deadline left and outcome', async () => {
  const policy = createServicePolicy(
    { timeoutMs: 2_000, retry: { baseDelayMs: 1, maxDelayMs: 2 } },
    { name: 'memory' },
  );
  const client = new ServiceClient({ service: 'memory', urls: url, policy, breaker: policy.breaker });
  try {
    expect(await client.callTool('store_input', {}, { deadline: client.deadlineAfter(5_000) })).toBe(1);
  } finally {
    await client.close();
  }
  await handle?.flush();
  const spans = exporter.getFinishedSpans();
  const call = spans.find((s) => s.name === 'memory tool store_input');
  const attempts = spans.filter((s) => s.name === 'memory attempt');
  expect(call?.attributes).toMatchObject({
    'cortex.upstream': 'memory',
    'cortex.call.kind': 'tool',
    'cortex.call.operation': 'store_input',
    'cortex.outcome': 'ok',
  });
  expect(attempts.map((a) => a.attributes['cortex.retry'])).toEqual([0, 1]);
  expect(attempts.map((a) => a.attributes['cortex.outcome'])).toEqual(['service_unavailable', 'ok']);
  for (const a of attempts) {
    expect(a.parentSpanContext?.spanId).toBe(call?.spanContext().spanId);
    expect(a.attributes['cortex.circuit.state']).toBe('closed');
    expect(a.attributes['server.address']).toBe(url);
    const left = a.attributes['cortex.deadline_left_ms'] as number;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(2_000);
  }
  // Each attempt's request carried its own span as the W3C parent.
  expect(traceparents).toEqual(
    attempts.map((a) => `00-${a.spanContext().traceId}-${a.spanContext().spanId}-01`),
  );
});
