import { CortexError } from '@cortex/errors';
import type { FastifyRequest } from 'fastify';
import type { Limiter } from '../plugins/protection';
import type { AuthUser, TokenService } from './tokens';

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthUser;
  }
}

/**
 * Reads `Authorization: Bearer`. Browsers cannot set headers on EventSource, so the stream route
 * also accepts `?token=` (and the logger redacts it).
 */
export function authenticator(tokens: TokenService, limitUser?: Limiter) {
  return function authenticate(options: { allowQueryToken?: boolean } = {}) {
    return async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      let token: string | undefined;
      if (typeof header === 'string') {
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        if (!match) throw new CortexError('unauthorized', 'Authorization must be "Bearer <token>"');
        token = match[1];
      } else if (options.allowQueryToken) {
        const q = (request.query as { token?: unknown } | undefined)?.token;
        if (typeof q === 'string' && q) token = q;
      }
      if (!token) throw new CortexError('unauthorized', 'Missing bearer token');
      request.user = await tokens.verify(token);
      // Charged only now that the user is proven: a forged token never spends someone's budget.
      await limitUser?.(request);
    };
  };
}
