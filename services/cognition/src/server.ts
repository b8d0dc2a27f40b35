import { envOrExit } from '@cortex/service-kit';
import { startTracing } from '@cortex/telemetry';
import { loadCognitionTracing } from './env';

// Tracing (off unless OTEL_TRACES_EXPORTER says otherwise) starts before the service's modules
// load, so the instrumentations see them; with it off, no SDK is loaded at all.
await startTracing(envOrExit(() => loadCognitionTracing()));
await import('./main');
