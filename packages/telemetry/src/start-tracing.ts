import { createRequire } from 'node:module';
import { trace } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { setTracingActive } from './tracer';
import type { TracingConfig } from './tracing-config';

export interface TracingHandle {
  /** Exports what is still buffered (call before the process exits). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /**
   * CommonJS modules to load through `require` right after the SDK started (memory: `pg`), from
   * the caller's `import.meta.url`. The instrumentation patches them on that load, and an ESM
   * `import` of the same module later gets the same, patched, instance: this works the same under
   * tsx and from dist/, without an ESM loader hook.
   */
  preload?: { from: string; modules: readonly string[] };
  /** Span processors instead of the exporters the `OTEL_*` variables describe (tests). */
  spanProcessors?: SpanProcessor[];
}

let handle: TracingHandle | undefined;

/**
 * Probes, scrapes and memory's event feed: a feed subscription lives as long as the gateway, and
 * every statement it polls with would join its one endless trace.
 */
const UNTRACED_ROUTES = new Set(['/health', '/metrics', '/resource/events']);

/** Flushes the running SDK's spans, if any (service-kit calls it when an app closes). */
export const flushTracing = (): Promise<void> => handle?.flush() ?? Promise.resolve();

/**
 * Starts the OpenTelemetry Node SDK when `config.enabled`, else does nothing and loads nothing
 * (the SDK is imported here, lazily). Call it before the modules to instrument are loaded: the
 * services' server.ts starts it, then imports the rest of the service.
 */
export async function startTracing(
  config: TracingConfig,
  options: StartTracingOptions = {},
): Promise<TracingHandle | undefined> {
  if (!config.enabled && options.spanProcessors === undefined) return undefined;
  if (handle) return handle;
  const [{ NodeSDK }, { PgInstrumentation }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-pg'),
    import('@fastify/otel'),
  ]);
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    // Traces only: metrics stay with Prometheus, logs with pino.
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    instrumentations: [
      // One span per inbound request, named by its request id; the routes' hooks are not worth
      // a span each.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        ignorePaths: ({ url }) => UNTRACED_ROUTES.has(url),
        requestHook: (span, request) => {
          span.setAttribute('cortex.request_id', request.id);
          // The path without its query: a browser's stream carries its token as `?token=`, and
          // a trace backend is read by more people than the logs (which redact it too).
          span.setAttribute('url.path', request.url.split('?')[0] ?? '');
        },
      }),
      // A statement outside any request (the feed's polling, LISTEN) would be a trace of its own
      // every few milliseconds: only statements made for something traced get a span.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  setTracingActive(true);
  if (options.preload) {
    const require = createRequire(options.preload.from);
    for (const name of options.preload.modules) require(name);
  }
  const processors = options.spanProcessors ?? [];
  handle = {
    flush: async () => {
      await Promise.all(processors.map((p) => p.forceFlush()));
      // The processors the SDK built from the variables belong to the provider it registered.
      const provider = trace.getTracerProvider() as { getDelegate?: () => unknown };
      const delegate = provider.getDelegate?.() as { forceFlush?: () => Promise<void> } | undefined;
      await delegate?.forceFlush?.();
    },
    shutdown: async () => {
      setTracingActive(false);
      handle = undefined;
      await sdk.shutdown();
    },
  };
  return handle;
}
