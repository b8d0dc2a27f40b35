import { CortexError } from '@cortex/errors';
import type { Clock } from '@cortex/resilience';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CallerService } from './service-secrets';
import { ServiceTokenVerifier } from './service-token-verifier';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated calling service (`gateway`, `cognition`), on every authenticated route. */
    caller: string | undefined;
    /** Whether the caller may use this tool (MCP `tools/call` checks it per call, as REST per route). */
    mayUseTool: ((name: string) => boolean) | undefined;
  }
}

/**
 * What a caller may use: everything, or the named tools (`POST /tool/{name}`) and the named
 * routes (as registered, e.g. `/resource/history/:user_id`).
 */
export type ServicePermission = 'all' | { tools?: readonly string[]; routes?: readonly string[] };

export interface ServiceAuthOptions {
  /** This service: the audience its tokens must name. */
  service: string;
  /** Each caller's accepted verification secrets (current first). */
  secrets: Partial<Record<CallerService, readonly string[]>>;
  /** A caller without an entry may authenticate but use nothing (403). */
  permissions: Partial<Record<CallerService, ServicePermission>>;
  /** Token expiry is read on its wall time (default: the app's clock). */
  clock?: Clock;
  cacheSize?: number;
}

/** Routes any caller, authenticated or not, may reach: probes and scrapers carry no tokens. */
const OPEN_ROUTES = new Set(['/health', '/metrics']);
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i;

function allowed(permission: ServicePermission | undefined, request: FastifyRequest): boolean {
  if (permission === 'all') return true;
  if (!permission) return false;
  const route = request.routeOptions.url;
  // MCP carries several tools on one route: a caller with any tool may reach it, and each call
  // is then checked by name (request.mayUseTool).
  if (route === '/mcp') return (permission.tools ?? []).length > 0;
  if (route === '/tool/:name') {
    const name = (request.params as { name?: unknown }).name;
    return typeof name === 'string' && (permission.tools ?? []).includes(name);
  }
  return route !== undefined && (permission.routes ?? []).includes(route);
}

/**
 * Service authentication on memory and cognition (contract: "Service wire format"): every route
 * but `/health` and `/metrics` needs `Authorization: Bearer <service token>`; a bad or missing
 * token is 401 `unauthorized`, a caller using what it may not is 403 `forbidden`. Installed as
 * an `onRequest` hook by `createServiceApp({ auth })`, so it runs before anything reads a body.
 */
export function installServiceAuth(app: FastifyInstance, options: ServiceAuthOptions) {
  const verifier = new ServiceTokenVerifier({
    audience: options.service,
    callers: options.secrets as Record<string, readonly string[]>,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.cacheSize ? { cacheSize: options.cacheSize } : {}),
  });
  app.decorateRequest('caller', undefined);
  app.decorateRequest('mayUseTool', undefined);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url !== undefined && OPEN_ROUTES.has(request.routeOptions.url)) return;
    const header = request.headers.authorization;
    if (header === undefined) throw new CortexError('unauthorized', 'Missing service token');
    const match = BEARER.exec(header);
    if (!match) throw new CortexError('unauthorized', 'Authorization must be "Bearer <service token>"');
    const caller = await verifier.verify(match[1] as string);
    request.caller = caller;
    const permission = options.permissions[caller as CallerService];
    request.mayUseTool = (name) => permission === 'all' || (permission?.tools ?? []).includes(name);
    if (!allowed(permission, request)) {
      throw new CortexError(
        'forbidden',
        `${caller} may not use ${request.method} ${request.url.split('?')[0]}`,
      );
    }
  });
  return verifier;
}
