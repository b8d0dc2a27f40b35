import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTracing, type TracingHandle } from './start-tracing';
import {
  captureContext,
  currentTraceparent,
  injectTraceContext,
  linkFromTraceparent,
  linksFromContexts,
  logTraceFields,
  tracingOn,
  withSpan,
  withSyncSpan,
} from './tracer';
import { parseTracingEnv } from './tracing-config';

const exporter = new InMemorySpanExporter();
let handle: TracingHandle | undefined;

/** Ended spans, once exported (the SDK exports after resolving its resource). */
async function finished() {
  await handle?.flush();
  return exporter.getFinishedSpans();
}

describe('tracing off', () => {
  it('loads nothing and hooks do nothing', async () => {
    expect(await startTracing(parseTracingEnv({}, 'test'))).toBeUndefined();
    expect(tracingOn()).toBe(false);
    const headers: Record<string, string> = {};
    injectTraceContext(headers);
    expect(headers).toEqual({});
    expect(await withSpan('x', {}, async (span) => span)).toBeUndefined();
    expect(withSyncSpan('x', {}, (span) => span)).toBeUndefined();
    expect(logTraceFields()).toEqual({});
    expect(currentTraceparent()).toBeUndefined();
  });
});

describe('tracing on', () => {
  beforeAll(async () => {
    handle = await startTracing(parseTracingEnv({}, 'test'), {
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
  });
  afterAll(() => handle?.shutdown());
  beforeEach(() => exporter.reset());

  it('nests spans, injects traceparent and puts ids in log fields', async () => {
    let headers: Record<string, string> = {};
    let fields = {};
    await withSpan('outer', { attributes: { a: 1 } }, async () => {
      await withSpan('inner', {}, async () => {
        headers = {};
        injectTraceContext(headers);
        fields = logTraceFields();
      });
    });
    const [inner, outer] = await finished();
    expect(inner?.name).toBe('inner');
    expect(outer?.attributes.a).toBe(1);
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    const traceId = outer?.spanContext().traceId;
    expect(headers.traceparent).toBe(`00-${traceId}-${inner?.spanContext().spanId}-01`);
    expect(fields).toEqual({ trace_id: traceId, span_id: inner?.spanContext().spanId });
  });

  it('marks a failed span with the error code and rethrows', async () => {
    const failure = Object.assign(new Error('down'), { code: 'connection' });
    await expect(withSpan('call', {}, async () => Promise.reject(failure))).rejects.toBe(failure);
    const [span] = await finished();
    expect(span?.attributes['cortex.outcome']).toBe('connection');
    expect(span?.status).toMatchObject({ code: 2, message: 'down' });
  });

  it('runs synchronous work in a span of its own trace, rethrowing its error', async () => {
    const failure = Object.assign(new Error('gone'), { code: 'aborted' });
    await withSpan('outer', {}, async () => {
      expect(withSyncSpan('deliver', { root: true }, (span) => span?.isRecording())).toBe(true);
      expect(() =>
        withSyncSpan('fails', {}, () => {
          throw failure;
        }),
      ).toThrow(failure);
    });
    const [deliver, fails, outer] = await finished();
    expect(deliver?.name).toBe('deliver');
    expect(deliver?.parentSpanContext).toBeUndefined();
    expect(deliver?.spanContext().traceId).not.toBe(outer?.spanContext().traceId);
    expect(fails?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(fails?.attributes['cortex.outcome']).toBe('aborted');
    expect(fails?.status.code).toBe(2);
  });

  it('links to a stored traceparent and to captured contexts', async () => {
    let stored: string | undefined;
    let captured: ReturnType<typeof captureContext>;
    await withSpan('request', {}, async () => {
      stored = currentTraceparent();
      captured = captureContext();
    });
    const [request] = await finished();
    expect(stored).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await withSpan('replay', { links: linkFromTraceparent(stored) }, async () => {});
    await withSpan('batch', { links: linksFromContexts([captured, undefined]) }, async () => {});
    const [, replay, batch] = await finished();
    expect(replay?.links.map((l) => l.context.spanId)).toEqual([request?.spanContext().spanId]);
    expect(replay?.spanContext().traceId).not.toBe(request?.spanContext().traceId);
    expect(batch?.links.map((l) => l.context.traceId)).toEqual([request?.spanContext().traceId]);
    expect(linkFromTraceparent('garbage')).toEqual([]);
  });
});
