import { CortexError } from '@cortex/errors';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface ProtectionOptions {
  /** Requests per user (or per address when anonymous) per minute; 0 turns limiting off. */
  rateLimitPerMinute: number;
  /** Event-loop delay beyond which requests are shed with 503; 0 turns shedding off. */
  maxEventLoopDelayMs: number;
}

// Operational routes must answer under load: an orchestrator that cannot read /health restarts us.
const EXEMPT = new Set(['/health', '/metrics']);

/**
 * Keys the limit by the token's user without verifying it here: authentication runs later and
 * rejects forged tokens anyway; an unverified id only ever spends its own bucket.
 */
function userKey(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const query = (request.query as { token?: unknown } | undefined)?.token;
  const token =
    typeof header === 'string' ? header.replace(/^Bearer\s+/i, '') : typeof query === 'string' ? query : '';
  const payload = token.split('.')[1];
  if (payload) {
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        oid?: unknown;
        sub?: unknown;
      };
      const id = typeof claims.oid === 'string' ? claims.oid : claims.sub;
      if (typeof id === 'string' && id.length <= 256) return `user:${id}`;
    } catch {}
  }
  return `ip:${request.ip}`;
}

/** Per-user rate limiting and load shedding, both answering with the contract's error body. */
export async function registerProtection(app: FastifyInstance, options: ProtectionOptions) {
  if (options.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: options.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: userKey,
      allowList: (request) => EXEMPT.has(request.routeOptions.url ?? ''),
      errorResponseBuilder: (_request, context) =>
        new CortexError('rate_limited', `Rate limit of ${context.max} requests per minute exceeded`, {
          retryAfterMs: context.ttl,
        }),
    });
  }
  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      // A rejected promise reaches the one error handler; undefined lets the request through.
      pressureHandler: (request, _reply, type) => {
        if (EXEMPT.has(request.routeOptions.url ?? '')) return;
        return Promise.reject(
          new CortexError('overloaded', `Shedding load (${type})`, { retryAfterMs: 1000, noRetry: true }),
        );
      },
    });
  }
}
