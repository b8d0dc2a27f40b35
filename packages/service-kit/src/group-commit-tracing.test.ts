import { startTracing, type TracingHandle, withSpan } from '@cortex/telemetry';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit';

const exporter = new InMemorySpanExporter();
let handle: TracingHandle | undefined;

beforeAll(async () => {
  handle = await startTracing(
    { enabled: false, exporters: [], serviceName: 'test', protocol: 'http/json', endpoint: undefined },
    { spanProcessors: [new SimpleSpanProcessor(exporter)] },
  );
});
afterAll(() => handle?.shutdown());

it('makes a span per batch with its size, child of its first request and linked to every request', async () => {
  let release = () => {};
  const writes: number[][] = [];
  const committer = new GroupCommitter<number, number>(async (items) => {
    writes.push(items);
    // The first batch holds the writer, so the next two requests queue and go together.
    if (writes.length === 1) await new Promise<void>((r) => (release = r));
    return items.map((i) => i * 10);
  });
  const request = (n: number) => withSpan(`request ${n}`, {}, () => committer.submit(n));
  const first = request(1);
  const rest = [request(2), request(3)];
  release();
  expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30]);
  expect(writes).toEqual([[1], [2, 3]]);

  await handle?.flush();
  const spans = exporter.getFinishedSpans();
  const byName = (name: string) => spans.find((s) => s.name === name);
  const requests = [1, 2, 3].map((n) => byName(`request ${n}`)?.spanContext());
  const batches = spans.filter((s) => s.name === 'group commit');
  expect(batches.map((b) => b.attributes['cortex.batch.size'])).toEqual([1, 2]);
  const [lone, shared] = batches;
  expect(lone?.links.map((l) => l.context.spanId)).toEqual([requests[0]?.spanId]);
  expect(shared?.links.map((l) => l.context.spanId)).toEqual([requests[1]?.spanId, requests[2]?.spanId]);
  // The shared batch is pumped from the first request's completion, yet belongs to request 2.
  expect(shared?.parentSpanContext?.spanId).toBe(requests[1]?.spanId);
  expect(shared?.spanContext().traceId).toBe(requests[1]?.traceId);
});
