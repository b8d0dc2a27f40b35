import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCognitionApp, cognitionTools } from '../services/cognition/src/app';
import { loadCognitionEnv } from '../services/cognition/src/env';
import { buildGatewayApp } from '../services/gateway/src/app';
import { loadGatewayEnv } from '../services/gateway/src/env';
import { buildMemoryApp } from '../services/memory/src/app';
import { loadMemoryEnv } from '../services/memory/src/env';
import { memoryTools } from '../services/memory/src/tools/message-tools';
import { searchTools } from '../services/memory/src/tools/search-tools';
import { taskTools } from '../services/memory/src/tools/task-tools';

// The API reference (api.md) against the code: every route each service registers, every event
// type the gateway's stream sends and every tool, in both directions. Error codes are tied to
// errors.md by packages/errors/src/codes.test.ts.

const doc = readFileSync(new URL('./api.md', import.meta.url), 'utf8');
type Service = 'gateway' | 'memory' | 'cognition';
type Routes = Map<string, string[]>;
/** What the test needs of a service's fastify instance (fastify is the services' dependency). */
interface App {
  printRoutes(options: { commonPrefix: boolean }): string;
  ready(): PromiseLike<unknown>;
  close(): PromiseLike<unknown>;
}

/** `| service | METHOD, … | `/path/{param}` |` rows, as fastify spells paths (`:param`). */
function documentedRoutes(service: Service): Routes {
  const routes: Routes = new Map();
  const row = new RegExp(`^\\|\\s*${service}\\s*\\|\\s*([A-Z, ]+?)\\s*\\|\\s*\`([^\`]+)\``, 'gm');
  for (const m of doc.matchAll(row)) {
    const path = (m[2] as string).replace(/\{(\w+)\}/g, ':$1');
    routes.set(path, (m[1] as string).split(/,\s*/).sort());
  }
  return routes;
}

/**
 * The routes an app registered, from fastify's `printRoutes` tree: one line per node, indented
 * four characters per level, a node's path being its parent's plus its own segment.
 */
function registeredRoutes(tree: string): Routes {
  const routes: Routes = new Map();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const at = line.indexOf('── ');
    if (at < 0) continue;
    const depth = (at - 1) / 4;
    const m = /^(.*?)(?: \(([^)]*)\))?$/.exec(line.slice(at + 3)) as RegExpExecArray;
    const path = (stack[depth - 1] ?? '') + (m[1] as string);
    stack[depth] = path;
    stack.length = depth + 1;
    const methods = (m[2] ?? '').split(/,\s*/).filter((x) => x !== '' && x !== 'HEAD');
    if (methods.length > 0) routes.set(path, methods.sort());
  }
  return routes;
}

describe('registeredRoutes', () => {
  it('joins nested segments and drops the HEAD twin of each GET', () => {
    const tree = [
      '└── / (GET, HEAD)',
      '    ├── health (GET, HEAD)',
      '    │   └── /details (GET, HEAD)',
      '    ├── tool/',
      '    │   └── :name (POST)',
      '    └── mcp (GET, HEAD, DELETE, POST)',
    ].join('\n');
    expect(Object.fromEntries(registeredRoutes(tree))).toEqual({
      '/': ['GET'],
      '/health': ['GET'],
      '/health/details': ['GET'],
      '/tool/:name': ['POST'],
      '/mcp': ['DELETE', 'GET', 'POST'],
    });
  });
});

describe('the API reference', () => {
  const apps = new Map<Service, App>();
  const pendingDir = mkdtempSync(join(tmpdir(), 'api-doc-'));

  beforeAll(async () => {
    apps.set(
      'memory',
      await buildMemoryApp({ env: loadMemoryEnv({ LOG_LEVEL: 'silent', PGLITE_DATA_DIR: 'memory://' }) }),
    );
    apps.set('cognition', await buildCognitionApp({ env: loadCognitionEnv({ LOG_LEVEL: 'silent' }) }));
    apps.set(
      'gateway',
      await buildGatewayApp({ env: loadGatewayEnv({ LOG_LEVEL: 'silent', PENDING_STORE_DIR: pendingDir }) }),
    );
    await Promise.all([...apps.values()].map((app) => app.ready()));
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.close()));
    rmSync(pendingDir, { recursive: true, force: true });
  });

  it.each(['gateway', 'memory', 'cognition'] as const)('lists exactly the routes %s registers', (service) => {
    const app = apps.get(service) as App;
    const registered = registeredRoutes(app.printRoutes({ commonPrefix: false }));
    // Swagger UI's own files: one row (`/docs`, "its files under `/docs/`") stands for them.
    for (const path of registered.keys()) if (path.startsWith('/docs/')) registered.delete(path);
    expect(registered.size).toBeGreaterThan(3);
    expect(Object.fromEntries(documentedRoutes(service))).toEqual(Object.fromEntries(registered));
  });

  it("names every event type the gateway's stream sends, and no other", () => {
    // What the stream writes is built in stream/, from memory's feed items (feed/), and in the
    // route that opens it.
    const root = new URL('../services/gateway/src/', import.meta.url);
    const files = [
      ...['stream/', 'feed/'].flatMap((dir) =>
        readdirSync(new URL(dir, root))
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
          .map((f) => `${dir}${f}`),
      ),
      'routes/stream.ts',
    ];
    const sources = files.map((f) => readFileSync(new URL(f, root), 'utf8'));
    const sent = new Set<string>();
    for (const text of sources) {
      for (const m of text.matchAll(/type: (?:z\.literal\()?'([a-z_]+)'/g)) sent.add(m[1] as string);
    }
    const events = doc.slice(doc.indexOf('| event `type`'), doc.indexOf('### Reading back'));
    const documented = new Set([...events.matchAll(/^\|\s*`([a-z_]+)`/gm)].map((m) => m[1] as string));
    expect(sent.size).toBeGreaterThan(3);
    expect([...documented].sort()).toEqual([...sent].sort());
  });

  it.each([
    ['memory', [...memoryTools, ...searchTools, ...taskTools], '### Memory tools', 'Memory resources'],
    ['cognition', cognitionTools, '### Cognition tools', 'When memory cannot'],
  ] as const)('lists exactly the tools %s serves', (_service, tools, from, to) => {
    const table = doc.slice(doc.indexOf(from), doc.indexOf(to));
    const documented = [...table.matchAll(/^\|\s*`([a-z_]+)`/gm)].map((m) => m[1] as string);
    expect(documented.sort()).toEqual(tools.map((t) => t.name).sort());
  });
});
