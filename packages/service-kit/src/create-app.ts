import { randomUUID } from 'node:crypto';
import { CortexError } from '@cortex/errors';
import { type Clock, systemClock } from '@cortex/resilience';
import { flushTracing, logTraceFields, requestTraceFields, tracingOn } from '@cortex/telemetry';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { createClientErrorHandler } from './client-error';
import { DEADLINE_HEADER, parseDeadlineHeader } from './deadline';
import { installErrorHandling, sendError } from './error-handler';
import { HealthRegistry } from './health';
import { installMetrics } from './metrics';
import { installServiceAuth, type ServiceAuthOptions } from './service-auth';

declare module 'fastify' {
  interface FastifyInstance {
    health: HealthRegistry;
    metrics: Registry;
  }
  interface FastifyRequest {
    /** Absolute deadline the caller gave us, if any, on the app's clock (`Clock.now()`). */
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
  /**
   * Service authentication (memory, cognition): every route but `/health` and `/metrics` needs a
   * service token, checked before anything else looks at the request.
   */
  auth?: ServiceAuthOptions;
  /**
   * What the open `GET /health` shows: everything (default; internal services), or only the
   * overall and each dependency's status (a public edge, where circuit states, instance
   * addresses and queue sizes are for signed-in users only: see `app.health.run()`).
   */
  publicHealth?: 'details' | 'status';
  /** Reuse a health result for this long (ms): a public /health must not fan out per request. */
  healthMaxAgeMs?: number;
  fastify?: Partial<FastifyServerOptions>;
  /** Deadlines, uptime and health-result reuse run on it. */
  clock?: Clock;
}

// A request id from outside ends up in every log line and header: printable ASCII, no control
// characters, no surrounding spaces, at most 200 characters. Anything else gets a fresh id.
const REQUEST_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$/;

const SECRET_PARAMS = new Set(['token', 'access_token']);

function decodedKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).trim().toLowerCase();
  } catch {
    // Undecodable: the query parser cannot read it as `token` either, but redact to be sure.
    return 'token';
  }
}

/**
 * A request's URL as logged: a token in the query (browsers' streams) never reaches a log. The
 * query is split as the parser splits it and each key decoded, so `?%74oken=` is caught too.
 */
export function loggedUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash === -1 ? undefined : hash);
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    return SECRET_PARAMS.has(decodedKey(key)) ? `${key}=[redacted]` : part;
  });
  return `${url.slice(0, q + 1)}${parts.join('&')}`;
}

/** Marks a request's logger that already has its trace and span ids among its bindings. */
const TRACE_BOUND = Symbol('trace ids bound');

const traceFieldsFor = (logger: object) =>
  (logger as Record<symbol, boolean>)[TRACE_BOUND] ? {} : logTraceFields();

/** The Fastify app every service builds on: logging, request ids, errors, health, metrics. */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const trustDeadline = options.trustDeadlineHeader ?? true;
  // Each request's id by its raw request, for an answer Node asks for outside Fastify's routing
  // (a request timeout while its body trickles in): the same id as its log lines.
  const requestIds = new WeakMap<object, string>();
  const app: FastifyInstance = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      base: { service: options.service },
      // Trace and span ids on every line when tracing is on (no mixin at all when it is off),
      // unless the line's logger already carries its request's (see the onRequest hook below).
      ...(tracingOn()
        ? { mixin: (_: object, _level: number, logger: object) => traceFieldsFor(logger) }
        : {}),
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
      const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
      requestIds.set(req, id);
      return id;
    },
    // Client errors (a request timeout, unparsable HTTP, headers over the limit) get the
    // contract's error body and an X-Request-ID too, not Fastify's own body.
    clientErrorHandler: createClientErrorHandler({
      requestIdOf: (req) => requestIds.get(req),
      log: () => app.log,
    }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Errors Fastify raises before routing (a path that is not valid percent-encoding such as
    // `/analysis/%FF`) get the contract's error body too, not Fastify's own.
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id);
      const bad = err.code === 'FST_ERR_BAD_URL';
      sendError(
        request,
        reply,
        bad ? new CortexError('invalid_request', 'The URL is not valid percent-encoding') : err,
      );
    },
    ...options.fastify,
  });

  // A keep-alive connection whose request is still running when close begins would otherwise
  // idle on after its answer until its keep-alive timeout (72 s), holding the shutdown up: say
  // `Connection: close` on every answer from then on, so each socket ends with its last response.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Spans still buffered leave before the process exits.
  if (tracingOn()) app.addHook('onClose', () => flushTracing());
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  app.decorate('health', new HealthRegistry(clock));
  app.decorateRequest('deadline', undefined);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  if (tracingOn()) {
    // The request's own lines ("request completed") are written after its span ended: its ids
    // go on the request's logger instead. Only "incoming request", written before any hook, has
    // the request id alone.
    app.addHook('onRequest', async (request, reply) => {
      const ids = requestTraceFields(request);
      if (ids.trace_id === undefined) return;
      const log = request.log.child(ids);
      (log as object as Record<symbol, boolean>)[TRACE_BOUND] = true;
      request.log = log;
      reply.log = log;
    });
  }
  // Before the deadline check: an unauthenticated caller learns nothing but 401.
  if (options.auth) installServiceAuth(app, { clock, ...options.auth });
  app.addHook('onRequest', async (request) => {
    if (!trustDeadline) return;
    const now = clock.now();
    const deadline = parseDeadlineHeader(request.headers[DEADLINE_HEADER], now);
    if (deadline !== undefined && deadline <= now) {
      // The caller has already given up; doing the work would only add load.
      throw new CortexError('timeout', 'The request deadline passed before work started');
    }
    request.deadline = deadline;
  });
  installErrorHandling(app);
  installMetrics(app, options.service, { defaultMetrics: options.defaultMetrics ?? false });

  app.get('/health', { logLevel: 'warn' }, async (_request, reply) => {
    const { status, dependencies } = await app.health.run(options.healthMaxAgeMs);
    reply.code(status === 'unhealthy' ? 503 : 200);
    if (options.publicHealth === 'status') {
      const states = Object.fromEntries(
        Object.entries(dependencies).map(([k, v]) => [k, { status: v.status }]),
      );
      return { status, dependencies: states };
    }
    return {
      status,
      service: options.service,
      uptime_s: Math.round((clock.now() - started) / 1000),
      timestamp: new Date(clock.wallNow()).toISOString(),
      dependencies,
    };
  });
  return app;
}
