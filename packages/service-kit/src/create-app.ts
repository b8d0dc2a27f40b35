import { randomUUID } from 'node:crypto';
import { CortexError } from '@cortex/errors';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { DEADLINE_HEADER, parseDeadlineHeader } from './deadline';
import { installErrorHandling } from './error-handler';
import { HealthRegistry } from './health';
import { installMetrics } from './metrics';

declare module 'fastify' {
  interface FastifyInstance {
    health: HealthRegistry;
    metrics: Registry;
  }
  interface FastifyRequest {
    /** Absolute deadline (Date.now() based) the caller gave us, if any. */
    deadline: number | undefined;
  }
}

export interface ServiceAppOptions {
  service: string;
  logLevel?: string;
  /** Collect process metrics (off in tests that build many apps in one process). */
  defaultMetrics?: boolean;
  bodyLimit?: number;
  fastify?: Partial<FastifyServerOptions>;
}

// A request id from outside ends up in every log line: accept only short, plain ids.
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The Fastify app every service builds on: logging, request ids, errors, health, metrics. */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const started = Date.now();
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      base: { service: options.service },
      redact: ['req.headers.authorization', 'req.query.token'],
    },
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    ...options.fastify,
  });

  app.decorate('health', new HealthRegistry());
  app.decorateRequest('deadline', undefined);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const deadline = parseDeadlineHeader(request.headers[DEADLINE_HEADER]);
    if (deadline !== undefined && deadline <= Date.now()) {
      // The caller has already given up; doing the work would only add load.
      throw new CortexError('timeout', 'The request deadline passed before work started');
    }
    request.deadline = deadline;
  });
  installErrorHandling(app);
  installMetrics(app, options.service, { defaultMetrics: options.defaultMetrics ?? false });

  app.get('/health', { logLevel: 'warn' }, async (_request, reply) => {
    const { status, dependencies } = await app.health.run();
    reply.code(status === 'unhealthy' ? 503 : 200);
    return {
      status,
      service: options.service,
      uptime_s: Math.round((Date.now() - started) / 1000),
      timestamp: new Date().toISOString(),
      dependencies,
    };
  });
  return app;
}
