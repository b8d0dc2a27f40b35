/**
 * Test support: the routes a Fastify app registers, and whether an OpenAPI document names exactly
 * those. Routes are recorded from outside the product code: Fastify announces each new instance
 * on the `fastify.initialization` diagnostics channel, where an `onRoute` hook can still be added
 * before any route exists.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

export interface RouteKey {
  method: string;
  url: string;
}

export interface RouteRecorder {
  /** The routes registered on this app (any of its plugins included), HEAD left out. */
  routesOf(app: object): RouteKey[];
  stop(): void;
}

/** Records the routes of every Fastify app created from now until `stop()`. */
export function recordRoutes(): RouteRecorder {
  const byApp = new Map<object, RouteKey[]>();
  const onInit = (message: unknown) => {
    const { fastify } = message as {
      fastify: {
        addHook(name: 'onRoute', hook: (r: { method: string | string[]; url: string }) => void): void;
      };
    };
    const routes: RouteKey[] = [];
    byApp.set(fastify, routes);
    fastify.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD') routes.push({ method, url: route.url });
      }
    });
  };
  subscribe('fastify.initialization', onInit);
  return {
    routesOf: (app) => byApp.get(app) ?? [],
    stop: () => unsubscribe('fastify.initialization', onInit),
  };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options'];

/** The operations of a document, as method and path. */
export function documentedOperations(document: {
  paths: Record<string, Record<string, unknown>>;
}): RouteKey[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((k) => METHODS.includes(k))
      .map((method) => ({ method: method.toUpperCase(), url: path })),
  );
}

/**
 * Whether an OpenAPI path is served by a Fastify route pattern: `{x}` stands for one segment
 * (`:y` or `*` in the route), a literal segment is served by `:y` (`/tool/store_input` by
 * `/tool/:name`), and `*` serves the rest.
 */
export function servedBy(path: string, route: string): boolean {
  const p = path.split('/');
  const r = route.split('/');
  for (let i = 0; i < r.length; i++) {
    const seg = r[i] ?? '';
    if (seg === '*') return i < p.length;
    const doc = p[i];
    if (doc === undefined) return false;
    if (seg.startsWith(':')) {
      if (doc === '') return false;
      continue;
    }
    if (doc.startsWith('{') || doc !== seg) return false;
  }
  return p.length === r.length;
}

/** What is registered but not documented, and documented but not registered. */
export function coverage(routes: readonly RouteKey[], documented: readonly RouteKey[]) {
  const undocumented = routes.filter(
    (r) => !documented.some((d) => d.method === r.method && servedBy(d.url, r.url)),
  );
  const unserved = documented.filter(
    (d) => !routes.some((r) => r.method === d.method && servedBy(d.url, r.url)),
  );
  return { undocumented, unserved };
}
