/** The service itself, imported by server.ts once tracing is set up (see there). */
import { envOrExit, runService } from '@cortex/service-kit';
import { buildGatewayApp } from './app';
import { loadGatewayEnv } from './env';

const env = envOrExit(() => loadGatewayEnv());
await runService(() => buildGatewayApp({ env, defaultMetrics: true }), { port: env.PORT, host: env.HOST });
