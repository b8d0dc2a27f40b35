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
  /**
   * Honour the caller's `x-cortex-deadline-ms` (default): refuse work it has already given up on,
   * and give `request.deadline` to the calls made for it. Off for a public edge such as the
   * gateway, which sets its own budgets: a client's header is not one to honour or pass on (a
   * tiny one, passed on, would make calls to healthy dependencies time out and trip circuits).
   */
  trustDeadlineHeader?: boolean;
  fastify?: Partial<FastifyServerOptions>;
}

// A request id from outside ends up in every log line and header: printable ASCII, no control
// characters, no surrounding spaces, at most 200 characters. Anything else gets a fresh id.
const REQUEST_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$/;

/** A request's URL as logged: a token in the query (browsers' streams) never reaches a log. */
export function loggedUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/** The Fastify app every service builds on: logging, request ids, errors, health, metrics. */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const started = Date.now();
  const trustDeadline = options.trustDeadlineHeader ?? true;
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      base: { service: options.service },
      serializers: {
        req: (req) => ({
          method: req.method,
          url: loggedUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
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

  // A keep-alive connection whose request is still running when close begins would otherwise
  // idle on after its answer until its keep-alive timeout (72 s), holding the shutdown up: say
  // `Connection: close` on every answer from then on, so each socket ends with its last response.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.decorate('health', new HealthRegistry());
  app.decorateRequest('deadline', undefined);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!trustDeadline) return;
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
