import { CortexError } from '@cortex/errors';
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens';
import { type LocalUser, PasswordChecker } from '../auth/users';
import type { Limiter } from '../plugins/protection';

const name = z.string().min(1).max(200);
export const loginBody = z
  .object({
    username: name.optional(),
    email: name.optional(),
    password: z.string().min(1).max(1024),
  })
  .refine((b) => b.username ?? b.email, { message: 'username or email is required', path: ['username'] });

export interface AuthRouteDeps {
  tokens: TokenService;
  users: readonly LocalUser[];
  /** Attempts per client address; charged before the password is checked. */
  limitLoginAddress: Limiter;
  /** Attempts per user (the user's id when the name is known, else the name given). */
  limitLoginUser: Limiter;
  authenticate: preHandlerHookHandler;
  /** Longest a session may be refreshed for, counted from the password check (s). */
  maxSessionS: number;
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The bucket a login attempt is counted in (set before the per-user limiter runs). */
    loginKey?: string;
  }
}

/**
 * `POST /auth/login` (JSON or form) issues tokens for the configured local users, and
 * `POST /auth/refresh` a fresh token for a still-valid one (the console keeps its stream going
 * past a token's expiry with it). Every attempt counts against both the address and the user,
 * whatever name is sent: inventing names gives no extra guesses at a real one.
 */
export function authRoutes(app: FastifyInstance, deps: AuthRouteDeps) {
  const now = deps.now ?? Date.now;
  const passwords = new PasswordChecker(deps.users);
  app.post('/auth/login', async (request) => {
    await deps.limitLoginAddress(request);
    const body = loginBody.parse(request.body ?? {});
    const given = (body.username ?? body.email) as string;
    const user = passwords.find(given);
    request.loginKey = user ? `user:${user.id}` : `name:${given}`;
    await deps.limitLoginUser(request);
    const ok = await passwords.check(user, body.password);
    if (!ok || !user) throw new CortexError('unauthorized', 'Unknown user or wrong password');
    const access_token = await deps.tokens.issue({ id: user.id, name: user.name });
    return { access_token, token_type: 'bearer', user_id: user.id };
  });

  app.post('/auth/refresh', { preHandler: deps.authenticate }, async (request) => {
    const user = request.user;
    const nowS = Math.floor(now() / 1000);
    // A token without auth_time was not issued by a password check here: it is not renewed.
    if (user.authTime === undefined || nowS - user.authTime > deps.maxSessionS)
      throw new CortexError('unauthorized', 'Session too old to refresh; sign in again');
    const access_token = await deps.tokens.issue({ ...user });
    return { access_token, token_type: 'bearer', user_id: user.id };
  });
}
