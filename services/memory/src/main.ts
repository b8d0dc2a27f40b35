/** The service itself, imported by server.ts once tracing is set up (see there). */
import { envOrExit, runService } from '@cortex/service-kit';
import { buildMemoryApp } from './app';
import { loadMemoryEnv } from './env';

const env = envOrExit(() => loadMemoryEnv());
await runService(() => buildMemoryApp({ env, defaultMetrics: true }), { port: env.PORT, host: env.HOST });
