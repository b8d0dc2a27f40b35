import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaOf } from '@cortex/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayApp } from '../app';
import { loadGatewayEnv } from '../env';
import { docsCsp } from './docs';
import { inputBody } from './input';
import { historyQuery } from './reading';

type Operation = { security?: unknown[]; requestBody?: { content: Record<string, { schema: unknown }> } } & {
  parameters?: { name: string; in: string; schema: unknown }[];
};
type Doc = { security: unknown[]; paths: Record<string, Record<string, Operation>> };

describe('GET /openapi.json and /docs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-docs-'));
  let app: Awaited<ReturnType<typeof buildGatewayApp>>;
  let doc: Doc;
  beforeAll(async () => {
    app = await buildGatewayApp({
      env: loadGatewayEnv({
        LOG_LEVEL: 'silent',
        MEMORY_SERVICE_URL: 'http://127.0.0.1:9',
        COGNITION_SERVICE_URL: 'http://127.0.0.1:9',
        PENDING_STORE_DIR: dir,
        AUTH_USERS: '',
      }),
    });
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.json();
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes requests with the zod schemas the routes validate with', () => {
    const input = doc.paths['/input']?.post?.requestBody?.content['application/json']?.schema;
    expect(input).toEqual(schemaOf(inputBody));
    expect(input).toMatchObject({
      properties: { content: { type: 'string', maxLength: 100_000 } },
      required: ['content'],
    });
    const limit = doc.paths['/history']?.get?.parameters?.find((p) => p.name === 'limit');
    expect(limit).toMatchObject({
      in: 'query',
      required: false,
      schema: { minimum: 1, maximum: 1000, default: 50 },
    });
    expect(schemaOf(historyQuery)).toMatchObject({ properties: { limit: limit?.schema } });
  });

  it('says which routes need a user token, and the app agrees: 401 without one, never on an open route', async () => {
    const checked: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const secured = (op.security ?? doc.security).length > 0;
        const url = path.replace(/\{[^}]+\}/g, 'x');
        const res = await app.inject({ method: method.toUpperCase() as 'GET', url });
        if (secured) expect(res.statusCode, `${method} ${path}`).toBe(401);
        else expect(res.statusCode, `${method} ${path}`).not.toBe(401);
        checked.push(`${method} ${path}`);
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining(['get /openapi.json', 'get /docs', 'post /input', 'get /health/details']),
    );
  });

  it('serves the browsable page and everything it loads from the gateway itself (offline)', async () => {
    const page = await app.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const refs = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const ref of refs) {
      // Nothing from another origin: no CDN.
      expect(ref, ref).not.toMatch(/^(https?:)?\/\//);
      const res = await app.inject({ url: new URL(ref, 'http://gateway/docs').pathname });
      expect(res.statusCode, ref).toBe(200);
    }
    // The page reads the document the gateway serves.
    const json = await app.inject({ url: '/docs/json' });
    expect(json.json()).toEqual(doc);
  });

  it('sends a policy that lets nothing load or run from elsewhere', async () => {
    const page = await app.inject({ url: '/docs' });
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https:|unsafe-inline|unsafe-eval|validator\.swagger\.io|\*/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('docsCsp', () => {
  it("removes other origins from Swagger UI's own policy and keeps its hashes", () => {
    const given =
      "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; frame-ancestors 'self'; img-src 'self' data: validator.swagger.io; object-src 'none'; script-src 'self' 'sha256-abc'; script-src-attr 'none'; style-src 'self' https: 'sha256-def'; upgrade-insecure-requests;";
    expect(docsCsp(given).split('; ')).toEqual([
      "default-src 'self'",
      "base-uri 'none'",
      "font-src 'self' data:",
      "frame-ancestors 'none'",
      "img-src 'self' data:",
      "object-src 'none'",
      "script-src 'self' 'sha256-abc'",
      "script-src-attr 'none'",
      "style-src 'self' 'sha256-def'",
      "connect-src 'self'",
      "form-action 'none'",
    ]);
  });
});
