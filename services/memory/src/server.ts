import { envOrExit } from '@cortex/service-kit';
import { startTracing } from '@cortex/telemetry';
import { loadMemoryTracing } from './env';

// Tracing (off unless OTEL_TRACES_EXPORTER says otherwise) starts before the service's modules
// load, so the instrumentations see them; with it off, no SDK is loaded at all.
// pg is loaded here, after the SDK started, so that instrumentation-pg patches it; the ESM
// import in db/pg-database.ts then gets this same, patched, module.
await startTracing(
  envOrExit(() => loadMemoryTracing()),
  { preload: { from: import.meta.url, modules: ['pg'] } },
);
await import('./main');
