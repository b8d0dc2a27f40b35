import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where the console's hand-written HTML, script and stylesheet live. */
const CONSOLE_DIR = fileURLToPath(new URL('../../public', import.meta.url));

/**
 * Everything the page needs comes from this origin; inline script and style are refused, so text
 * echoed from events can never run. `connect-src 'self'` covers fetch and EventSource alike.
 */
const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The browser console: `GET /` serves the page, `GET /console/*` its assets. Registered in its
 * own scope so the security headers apply to these responses only, not to the JSON API.
 */
export async function consoleRoutes(app: FastifyInstance) {
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      // Small files that change with the code: revalidate rather than serve a stale console.
      reply.header('cache-control', 'no-cache');
      return payload;
    });
    await scope.register(fastifyStatic, {
      root: CONSOLE_DIR,
      prefix: '/console/',
      index: false,
      list: false,
      dotfiles: 'deny',
      cacheControl: false,
    });
    scope.get('/', (_request, reply) => reply.sendFile('index.html'));
  });
}
