export { flushTracing, startTracing, type TracingHandle } from './start-tracing';
export {
  annotateSpan,
  captureContext,
  currentTraceparent,
  injectTraceContext,
  inTracedWork,
  linkFromTraceparent,
  linksFromContexts,
  logTraceFields,
  requestTraceFields,
  type Span,
  SpanKind,
  tracingOn,
  withSpan,
  withSyncSpan,
} from './tracer';
export { parseTracingEnv } from './tracing-config';
