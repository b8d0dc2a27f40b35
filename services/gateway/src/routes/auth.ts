import { CortexError } from '@cortex/errors';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens';
import { checkPassword, type LocalUser } from '../auth/users';

const loginBody = z
  .object({
    username: z.string().min(1).optional(),
    email: z.string().min(1).optional(),
    password: z.string().min(1),
  })
  .refine((b) => b.username ?? b.email, { message: 'username or email is required', path: ['username'] });

/** `POST /auth/login` (JSON or form) issues tokens for the configured local users. */
export function authRoutes(app: FastifyInstance, tokens: TokenService, users: LocalUser[]) {
  app.post('/auth/login', async (request) => {
    const body = loginBody.parse(request.body ?? {});
    const name = (body.username ?? body.email) as string;
    const user = users.find((u) => u.name === name || u.id === name);
    if (!checkPassword(user, body.password) || !user)
      throw new CortexError('unauthorized', 'Unknown user or wrong password');
    const access_token = await tokens.issue({ id: user.id, name: user.name });
    return { access_token, token_type: 'bearer', user_id: user.id };
  });
}
