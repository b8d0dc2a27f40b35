import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

export { type Span, SpanKind };

// Set once the SDK has started. Every hook checks this plain boolean first, so with tracing off
// the hot path pays one branch and never touches the OpenTelemetry API.
let active = false;

/** Whether spans are being recorded in this process. */
export const tracingOn = (): boolean => active;

/** @internal Flipped by startTracing/stopTracing. */
export function setTracingActive(on: boolean) {
  active = on;
}

const tracer = () => trace.getTracer('cortex');

/**
 * Runs `fn` inside a new active span (ending it, with an error status when `fn` throws), a child
 * of `parent` or else of the active context. With tracing off it only calls `fn(undefined)`.
 */
export function withSpan<T>(
  name: string,
  options: {
    kind?: SpanKind;
    attributes?: Attributes;
    links?: Link[];
    parent?: Context | undefined;
    /** A new trace, whatever is active (work for a request that is long gone links to it instead). */
    root?: boolean;
  },
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!active) return fn(undefined);
  const { parent, ...spanOptions } = options;
  return tracer().startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * `withSpan` for synchronous work (an event handed to open streams): the span ends as `fn`
 * returns, and what `fn` throws is thrown here, as it would be without tracing.
 */
export function withSyncSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; links?: Link[]; root?: boolean },
  fn: (span: Span | undefined) => T,
): T {
  if (!active) return fn(undefined);
  return tracer().startActiveSpan(name, options, (span) => {
    try {
      return fn(span);
    } catch (err) {
      recordFailure(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed with the error's code (a CortexError's) or name. */
function recordFailure(span: Span, err: unknown) {
  const code = (err as { code?: unknown } | null)?.code;
  span.setAttribute('cortex.outcome', typeof code === 'string' ? code : 'error');
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Adds the W3C `traceparent` (and `tracestate`) of the active span to outgoing headers. */
export function injectTraceContext(headers: Record<string, string>): void {
  if (active) propagation.inject(context.active(), headers);
}

/** The active span's `traceparent`, to store beside data that outlives the request (journal, feed). */
export function currentTraceparent(): string | undefined {
  if (!active) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** A link to the span a stored `traceparent` names, or none if it is missing or malformed. */
export function linkFromTraceparent(traceparent: string | undefined): Link[] {
  if (!active || traceparent === undefined) return [];
  const ctx = propagation.extract(ROOT_CONTEXT, { traceparent });
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
}

/** Links to the spans active in each of `contexts` (the requests a batch serves). */
export function linksFromContexts(contexts: readonly (Context | undefined)[]): Link[] {
  const links: Link[] = [];
  for (const ctx of contexts) {
    const spanContext = ctx && trace.getSpanContext(ctx);
    if (spanContext && trace.isSpanContextValid(spanContext)) links.push({ context: spanContext });
  }
  return links;
}

/** The active context, to carry across a queue (undefined with tracing off). */
export function captureContext(): Context | undefined {
  return active ? context.active() : undefined;
}

/** `trace_id` and `span_id` of the active span, for a log line (empty with tracing off). */
export function logTraceFields(): { trace_id?: string; span_id?: string } {
  if (!active) return {};
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/** Sets attributes on the active span, if tracing is on. */
export function annotateSpan(attributes: Attributes): void {
  if (active) trace.getActiveSpan()?.setAttributes(attributes);
}

/** Whether tracing is on and a span is active (work done for something traced). */
export function inTracedWork(): boolean {
  return active && trace.getActiveSpan() !== undefined;
}

/**
 * `trace_id` and `span_id` of the server span @fastify/otel made for a Fastify request (empty when
 * it made none): for the request's own log lines, which Fastify also writes outside the span.
 */
export function requestTraceFields(request: object): { trace_id?: string; span_id?: string } {
  if (!active) return {};
  const otel = (request as { opentelemetry?: () => { span?: Span | null } }).opentelemetry?.();
  const spanContext = otel?.span?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
