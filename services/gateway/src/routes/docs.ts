import { serveOpenApi } from '@cortex/service-kit';
import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { gatewayDocument } from '../openapi/document';

/**
 * Swagger UI's own policy with what would reach beyond this gateway taken out: no fonts or
 * styles from any https origin, no image from the online validator, no framing, no forms. Inline
 * script and style stay refused (the plugin allows only its own, by hash, and has none today).
 */
export function docsCsp(header: string): string {
  const directives = header
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d !== '' && d !== 'upgrade-insecure-requests')
    .map((d) =>
      d
        .split(/\s+/)
        .filter((token) => token !== 'https:' && token !== 'validator.swagger.io')
        .join(' '),
    )
    .map((d) => (d.startsWith('frame-ancestors') ? "frame-ancestors 'none'" : d))
    .map((d) => (d.startsWith('base-uri') ? "base-uri 'none'" : d));
  return [...directives, "connect-src 'self'", "form-action 'none'"].join('; ');
}

/**
 * `GET /openapi.json` (the document) and `GET /docs` (Swagger UI, its files served from here, so
 * it works offline). Both are open: they describe the API, they serve no one's data; "Try it out"
 * calls go to this gateway with the token typed into "Authorize".
 */
export async function docsRoutes(app: FastifyInstance) {
  const document = gatewayDocument();
  serveOpenApi(app, document);
  await app.register(async (scope) => {
    await scope.register(swagger, {
      mode: 'static',
      // Its types know OpenAPI 3.0; the 3.1 document is served as it is.
      specification: { document: document as unknown as StaticDocumentSpec['document'] },
    });
    await scope.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      transformStaticCSP: docsCsp,
      // The online validator badge would send the document to a third party.
      validatorUrl: false,
      uiConfig: { deepLinking: false, tryItOutEnabled: false, displayRequestDuration: true },
      theme: { title: 'Cortex Core gateway API' },
    });
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });
  });
}
