export { flushTracing, type StartTracingOptions, startTracing, type TracingHandle } from './start-tracing';
export {
  type Attributes,
  annotateSpan,
  captureContext,
  currentTraceparent,
  injectTraceContext,
  inTracedWork,
  linkFromTraceparent,
  linksFromContexts,
  logTraceFields,
  recordFailure,
  requestTraceFields,
  type Span,
  SpanKind,
  SpanStatusCode,
  tracingOn,
  withSpan,
} from './tracer';
export { parseTracingEnv, type TracingConfig, TracingEnvError, tracingEnvSchema } from './tracing-config';
