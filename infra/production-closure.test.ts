import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './compose-file';
import {
  deployCommand,
  deployedPackages,
  devOnly,
  namesIn,
  productionClosure,
  TEST_SUPPORT,
  workspaceManifests,
} from './production-closure';

// The production install of each service, from the lockfile (`pnpm list --prod`), holds no build
// or test tool and no dev dependency. e2e/production-build.test.ts checks the real `pnpm deploy`
// output the image copies, and runs it.

const SERVICES = ['gateway', 'memory', 'cognition'];
// Every workspace package, read from the tree: a new one is checked without being listed here.
const PROJECT_DIRS = ['packages', 'services'].flatMap((group) =>
  readdirSync(join(REPO_ROOT, group), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(REPO_ROOT, group, d.name, 'package.json')))
    .map((d) => `${group}/${d.name}`),
);

describe('devOnly', () => {
  const isDev = devOnly();

  it('names the tools and dev dependencies, but not what some package needs at run time', () => {
    for (const name of [
      'tsx',
      'esbuild',
      'typescript',
      'vitest',
      '@biomejs/biome',
      'fast-check',
      '@types/pg',
      '@cortex/testing',
      // A dependency of @cortex/testing only: test support does not make it a run-time package.
      '@cortex/fault-proxy',
    ]) {
      expect(isDev(name), name).toBe(true);
    }
    // undici, jose and pg are devDependencies of e2e or bench, and dependencies of services.
    for (const name of ['fastify', 'undici', 'jose', 'pg', 'zod', '@cortex/errors']) {
      expect(isDev(name), name).toBe(false);
    }
  });

  it('counts what a runtime dependency requires as runtime, but never a build or test tool', () => {
    // yaml: a test tool of the root, and what the gateway's @fastify/swagger-ui requires.
    expect(isDev('yaml')).toBe(false);
    expect(devOnly([{ devDependencies: { yaml: '1' } }], [])('yaml')).toBe(true);
    expect(devOnly([{ devDependencies: { yaml: '1' } }], ['yaml'])('yaml')).toBe(false);
    expect(devOnly([{ dependencies: { tsx: '1' } }], ['esbuild'])('tsx')).toBe(true);
    expect(devOnly([{ dependencies: { tsx: '1' } }], ['esbuild'])('esbuild')).toBe(true);
  });

  it('counts any @types package as dev, whoever lists it', () => {
    expect(devOnly([{ dependencies: { '@types/x': '1' } }])('@types/x')).toBe(true);
  });
});

describe('namesIn and deployedPackages (test support)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'closure-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('collects names through nested pnpm list trees', () => {
    const tree = { dependencies: { a: { dependencies: { b: {}, '@s/c': { dependencies: { a: {} } } } } } };
    expect([...namesIn(tree)].sort()).toEqual(['@s/c', 'a', 'b']);
  });

  it('reads package names from virtual store entries, scoped and peer-suffixed ones included', () => {
    for (const entry of [
      'fastify@5.12.8',
      '@fastify+sse@0.6.0_fastify@5.12.8',
      'lock.yaml',
      'node_modules',
    ]) {
      mkdirSync(join(dir, 'node_modules/.pnpm', entry), { recursive: true });
    }
    expect([...deployedPackages(dir)].sort()).toEqual(['@fastify/sse', 'fastify']);
  });
});

describe('deployCommand', () => {
  it("is the Dockerfile's pnpm deploy for one service, into the folder given", () => {
    expect(deployCommand('memory', '/x')).toEqual([
      '--filter',
      '@cortex/memory',
      '--config.inject-workspace-packages=true',
      'deploy',
      '--prod',
      '--offline',
      '/x',
    ]);
  });
});

describe.each(SERVICES)('the production closure of @cortex/%s', (name) => {
  it('has its runtime dependencies and no dev dependency, tsx and esbuild included', async () => {
    const closure = await productionClosure(`@cortex/${name}`);
    expect(closure.has('fastify')).toBe(true);
    expect(closure.has('@cortex/service-kit')).toBe(true);
    const isDev = devOnly();
    expect([...closure].filter(isDev)).toEqual([]);
    expect(closure.has(TEST_SUPPORT)).toBe(false);
  });
});

describe('package manifests', () => {
  it('keep @types/* out of every dependencies list', () => {
    for (const m of workspaceManifests()) {
      expect(
        Object.keys(m.dependencies ?? {}).filter((d) => d.startsWith('@types/')),
        m.name,
      ).toEqual([]);
    }
  });

  it.each(PROJECT_DIRS)(
    '%s exports its sources under @cortex/source and its build by default, and publishes dist',
    (dir) => {
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as {
        exports: Record<string, Record<string, string>>;
        files: string[];
      };
      for (const [subpath, target] of Object.entries(pkg.exports)) {
        expect(Object.keys(target), subpath).toEqual(['@cortex/source', 'default']);
        expect(target['@cortex/source'], subpath).toMatch(/^\.\/src\/.+\.ts$/);
        expect(target.default, subpath).toBe(
          target['@cortex/source']?.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '.js'),
        );
      }
      expect(pkg.files).toContain('dist');
    },
  );

  it.each(PROJECT_DIRS)(
    "%s's source exports are knip's paths too (tsconfig.knip.json), so knip reads sources, not dist",
    (dir) => {
      const knipPaths = readFileSync(join(REPO_ROOT, 'tsconfig.knip.json'), 'utf8');
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, dir, 'package.json'), 'utf8')) as {
        name: string;
        exports: Record<string, Record<string, string>>;
      };
      for (const [subpath, target] of Object.entries(pkg.exports)) {
        const name = `${pkg.name}${subpath.slice(1)}`;
        const source = `./${dir}/${target['@cortex/source']?.slice(2)}`;
        expect(knipPaths, name).toContain(`"${name}": ["${source}"]`);
      }
    },
  );
});
