/**
 * `pnpm build:js`: every workspace package and service compiled to JavaScript in its own `dist/`,
 * one output file per source file (tests left out), so `src/a/b.ts` becomes `dist/a/b.js` and
 * paths relative to a module (the gateway's `public/`, memory's `migrations/`) stay true.
 *
 * Why esbuild and not `tsc -b`: the sources import each other without extensions (bundler
 * resolution), which Node's ESM loader refuses, and TypeScript only rewrites `.ts` extensions, so
 * tsc's output would not run. esbuild resolves each relative import to its file and writes it
 * back with `.js`; packages (`@cortex/*` included) stay imports, resolved at run time through
 * their `exports` ("default" → dist). Type checking stays with `pnpm typecheck`.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The workspace folders that ship code: packages/* and services/*. */
export function workspaceProjects(root = ROOT): string[] {
  return ['packages', 'services'].flatMap((group) =>
    readdirSync(join(root, group))
      .map((name) => join(root, group, name))
      .filter((dir) => existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))),
  );
}

/** Every source file of a project that is not a test. */
export function sourceFiles(srcDir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(srcDir)) {
    const path = join(srcDir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files.sort();
}

/** `./x` → `./x.js` or `./x/index.js`, as the file it names exists; anything else is left alone. */
function withJsExtension(spec: string, fromDir: string): string {
  const target = resolve(fromDir, spec);
  if (existsSync(`${target}.ts`)) return `${spec}.js`;
  if (existsSync(join(target, 'index.ts'))) return `${spec}/index.js`;
  if (spec.endsWith('.ts')) return `${spec.slice(0, -3)}.js`;
  return spec;
}

/** Keeps every import an import (no bundling), with relative ones pointing at the emitted files. */
const perFile: Plugin = {
  name: 'per-file',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (args.path.startsWith('.')) {
        return { path: withJsExtension(args.path, args.resolveDir), external: true };
      }
      return { path: args.path, external: true };
    });
  },
};

export async function buildProject(dir: string): Promise<string[]> {
  const outdir = join(dir, 'dist');
  rmSync(outdir, { recursive: true, force: true });
  const entryPoints = sourceFiles(join(dir, 'src'));
  await build({
    entryPoints,
    outdir,
    outbase: join(dir, 'src'),
    bundle: true,
    plugins: [perFile],
    format: 'esm',
    platform: 'node',
    // The oldest Node the project supports (package.json engines).
    target: 'node20.19',
    sourcemap: true,
    logLevel: 'warning',
  });
  return entryPoints.map((f) => join(outdir, relative(join(dir, 'src'), f)).replace(/\.ts$/, '.js'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const started = performance.now();
  let files = 0;
  for (const dir of workspaceProjects()) {
    files += (await buildProject(dir)).length;
    console.log(`built ${relative(ROOT, dir)}/dist`);
  }
  console.log(`${files} files in ${Math.round(performance.now() - started)} ms`);
}
