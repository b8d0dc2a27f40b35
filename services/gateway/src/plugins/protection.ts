import { CortexError } from '@cortex/errors';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface ProtectionOptions {
  /** Requests per verified user per minute; 0 turns this limit off. */
  rateLimitPerMinute: number;
  /** Requests per client address per minute, before authentication; 0 turns this limit off. */
  rateLimitPerAddressPerMinute: number;
  /** Event-loop delay beyond which requests are shed with 503; 0 turns shedding off. */
  maxEventLoopDelayMs: number;
}

/** Counts one request (or attempt) under a key; throws `rate_limited` with Retry-After past the limit. */
export type Limiter = (request: FastifyRequest) => Promise<void>;

// Operational routes must answer under load: an orchestrator that cannot read /health restarts us.
const EXEMPT = new Set(['/health', '/metrics']);
// Distinct keys remembered per limiter; an LRU beyond that (a flood of fresh keys evicts old ones,
// which only ever resets a bucket, never charges someone else's).
const KEYS = 50_000;
const ALLOW: Limiter = async () => {};

const limited = (what: string, max: number, ttlMs: number) =>
  new CortexError('rate_limited', `Rate limit of ${max} ${what} exceeded`, {
    retryAfterMs: Math.max(1000, ttlMs),
  });

/**
 * Makes a limiter over @fastify/rate-limit's store: `key` names the bucket (return undefined to
 * skip counting). The plugin's own hook runs once per request, so per-user and login limits are
 * called explicitly where their key is known (after authentication, after the body is parsed).
 */
export function makeLimiter(
  app: FastifyInstance,
  options: {
    max: number;
    windowMs: number;
    what: string;
    key: (request: FastifyRequest) => string | undefined;
  },
): Limiter {
  if (options.max <= 0) return ALLOW;
  const take = app.createRateLimit({
    max: options.max,
    timeWindow: options.windowMs,
    keyGenerator: (request) => options.key(request) ?? '',
    allowList: (request) => options.key(request) === undefined,
  });
  return async (request) => {
    const result = await take(request);
    if (!result.isAllowed && result.isExceeded) throw limited(options.what, result.max, result.ttl);
  };
}

/**
 * Rate limiting in two places and load shedding, all answering with the contract's error body.
 * Before authentication the only thing known about a client is its address (the socket's peer,
 * or the hop TRUST_PROXY names), so that is the first bucket. The per-user bucket is charged only
 * once a token has been verified (see `limitUser`): a forged token naming alice fails
 * authentication and spends its sender's address budget, never alice's.
 */
export async function registerProtection(app: FastifyInstance, options: ProtectionOptions) {
  await app.register(rateLimit, {
    global: options.rateLimitPerAddressPerMinute > 0,
    hook: 'onRequest',
    max: options.rateLimitPerAddressPerMinute,
    timeWindow: 60_000,
    cache: KEYS,
    // The default key is the client address, with neighbours in one IPv6 subnet counted as one.
    allowList: (request) => EXEMPT.has(request.routeOptions.url ?? ''),
    errorResponseBuilder: (_request, context) =>
      limited('requests per minute per address', context.max, context.ttl),
  });
  const limitUser = makeLimiter(app, {
    max: options.rateLimitPerMinute,
    windowMs: 60_000,
    what: 'requests per minute',
    key: (request) => (request.user ? `user:${request.user.id}` : undefined),
  });
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
  return { limitUser };
}
