/** The service itself, imported by server.ts once tracing is set up (see there). */
import { envOrExit, runService } from '@cortex/service-kit';
import { buildCognitionApp } from './app';
import { loadCognitionEnv } from './env';

const env = envOrExit(() => loadCognitionEnv());
await runService(() => buildCognitionApp({ env, defaultMetrics: true }), { port: env.PORT, host: env.HOST });
