import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceTokenSigner } from '../packages/network-client/src/index';
import { DEVELOPMENT_SECRETS } from '../packages/service-kit/src/index';
import { type LiveApps, type OpenLiveApps, openLiveApps } from './live-apps';
import { coverage, documentedOperations, type RouteKey, recordRoutes, servedBy } from './openapi-routes';

type Doc = { openapi: string; paths: Record<string, Record<string, unknown>> } & Record<string, unknown>;
type Name = keyof LiveApps;

// Signed as the gateway signs its calls, with its development secret.
const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const recorder = recordRoutes();
let apps: OpenLiveApps;
const routes: Partial<Record<Name, RouteKey[]>> = {};

beforeAll(async () => {
  apps = await openLiveApps();
  recorder.stop();
  for (const name of ['gateway', 'memory', 'cognition'] as const)
    routes[name] = recorder.routesOf(apps[name]);
}, 60_000);
afterAll(async () => {
  recorder.stop();
  await apps?.close();
});

async function documentOf(name: Name) {
  const headers = name === 'gateway' ? {} : { authorization: `Bearer ${await gatewayTokens.token(name)}` };
  const res = await apps[name].inject({ url: '/openapi.json', headers });
  expect(res.statusCode, name).toBe(200);
  return res.json() as Doc;
}

/** Swagger UI's own files under /docs/: the page's assets, not API (/docs itself is documented). */
const isDocsAsset = (r: RouteKey) => r.url.startsWith('/docs/');

describe.each(['gateway', 'memory', 'cognition'] as const)('the OpenAPI document of %s', (name) => {
  let doc: Doc;
  beforeAll(async () => {
    doc = await documentOf(name);
  });

  it('is valid OpenAPI 3.1 (by a maintained validator)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('names every route the app registers, and nothing else', () => {
    const registered = (routes[name] ?? []).filter((r) => !isDocsAsset(r));
    expect(registered.length).toBeGreaterThan(5);
    expect(registered).toContainEqual({ method: 'GET', url: '/openapi.json' });
    expect(coverage(registered, documentedOperations(doc))).toEqual({ undocumented: [], unserved: [] });
  });
});

describe('the service documents', () => {
  it.each(['memory', 'cognition'] as const)(
    '%s: one path per tool it has, from its own /tools',
    async (name) => {
      const auth = { authorization: `Bearer ${await gatewayTokens.token(name)}` };
      const tools = (await apps[name].inject({ url: '/tools', headers: auth })).json().tools as {
        name: string;
        input_schema: Record<string, unknown>;
      }[];
      const doc = await documentOf(name);
      const documented = Object.keys(doc.paths)
        .filter((p) => p.startsWith('/tool/'))
        .map((p) => p.slice('/tool/'.length));
      expect(documented.sort()).toEqual(tools.map((t) => t.name).sort());
      // The arguments are the tool's own schema, as /tools gives it.
      for (const tool of tools) {
        const post = doc.paths[`/tool/${tool.name}`]?.post as
          | { requestBody: { content: Record<string, { schema: { oneOf: unknown[] } }> } }
          | undefined;
        const body = post?.requestBody.content['application/json']?.schema.oneOf;
        const { $schema: _, ...args } = tool.input_schema;
        expect(body?.[1]).toEqual(args);
      }
    },
  );

  it.each(['memory', 'cognition'] as const)(
    '%s: is served only to an authenticated service',
    async (name) => {
      const res = await apps[name].inject({ url: '/openapi.json' });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    },
  );
});

describe('the checks (they can fail)', () => {
  it('match OpenAPI paths to Fastify routes segment by segment', () => {
    expect(servedBy('/analysis/{conversation_id}', '/analysis/:conversation_id')).toBe(true);
    expect(servedBy('/tool/store_input', '/tool/:name')).toBe(true);
    expect(servedBy('/console/{file}', '/console/*')).toBe(true);
    expect(servedBy('/history', '/history/:id')).toBe(false);
    expect(servedBy('/history/{id}', '/history')).toBe(false);
    expect(servedBy('/tool/{name}', '/tool/store_input')).toBe(false);
  });

  it('report a route missing from the document, and a documented one that does not exist', async () => {
    const doc = await documentOf('gateway');
    const { '/search': _, ...rest } = doc.paths;
    const registered = (routes.gateway ?? []).filter((r) => !isDocsAsset(r));
    expect(coverage(registered, documentedOperations({ paths: rest })).undocumented).toEqual([
      { method: 'GET', url: '/search' },
    ]);
    const extra = { ...doc.paths, '/nothing': { get: { responses: {} } } };
    expect(coverage(registered, documentedOperations({ paths: extra })).unserved).toEqual([
      { method: 'GET', url: '/nothing' },
    ]);
  });

  it('reject a document that is not valid OpenAPI', async () => {
    const doc = await documentOf('gateway');
    const broken = structuredClone(doc);
    (broken.paths['/input'] as { post: { responses: unknown } }).post.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });
});
