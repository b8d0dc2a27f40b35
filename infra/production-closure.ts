import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './compose-file';

/**
 * Test support: what a service's production install holds, and what must never be in it.
 * The image runs `node dist/server.js` over `pnpm deploy --prod` output (see Dockerfile).
 */

const run = promisify(execFile);

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** The root package.json and every workspace project's (packages, services, e2e, bench). */
export function workspaceManifests(root = REPO_ROOT): PackageJson[] {
  const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  const dirs = ['packages', 'services'].flatMap((group) =>
    readdirSync(join(root, group)).map((name) => join(root, group, name)),
  );
  return [root, ...dirs, join(root, 'e2e'), join(root, 'bench')].map(read);
}

/** Tools that only build, type-check or test: never needed at run time. */
export const TOOLING = ['tsx', 'esbuild', 'typescript', 'vitest', '@biomejs/biome', 'vite'];

/**
 * Workspace devDependencies that a runtime dependency also needs at run time: `yaml`, which
 * @opentelemetry/configuration (the Node SDK's) loads to read an OpenTelemetry config file.
 */
const RUN_TIME_OF_DEPENDENCIES = ['yaml'];

/**
 * Names that must not be in a production closure: every devDependency of the workspace that no
 * workspace package needs at run time (undici is a test tool of e2e but a dependency of the
 * network client), the build and test tools, and any `@types/*`.
 */
export function devOnly(manifests = workspaceManifests()): (name: string) => boolean {
  const runtime = new Set([
    ...manifests.flatMap((m) => Object.keys(m.dependencies ?? {})),
    ...RUN_TIME_OF_DEPENDENCIES,
  ]);
  const dev = new Set([...manifests.flatMap((m) => Object.keys(m.devDependencies ?? {})), ...TOOLING]);
  return (name) => name.startsWith('@types/') || (dev.has(name) && !runtime.has(name));
}

interface ListNode {
  dependencies?: Record<string, ListNode & { version?: string }>;
}

/** Every package name under a `pnpm list --json` tree. */
export function namesIn(tree: ListNode, into = new Set<string>()): Set<string> {
  for (const [name, node] of Object.entries(tree.dependencies ?? {})) {
    into.add(name);
    namesIn(node, into);
  }
  return into;
}

/** The production dependency closure of a workspace project, as pnpm resolves it from the lockfile. */
export async function productionClosure(pkg: string, root = REPO_ROOT): Promise<Set<string>> {
  const { stdout } = await run('pnpm', ['--filter', pkg, 'list', '--prod', '--depth', 'Infinity', '--json'], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [tree] = JSON.parse(stdout) as ListNode[];
  if (!tree) throw new Error(`pnpm list found no project ${pkg}`);
  return namesIn(tree);
}

/** Package names installed in a `pnpm deploy` output's virtual store (`node_modules/.pnpm`). */
export function deployedPackages(dir: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(join(dir, 'node_modules', '.pnpm'))) {
    if (entry === 'lock.yaml' || entry === 'node_modules') continue;
    // `@scope+name@1.2.3_peer@4` or `name@1.2.3`: the name ends at the version's `@`.
    const at = entry.indexOf('@', entry.startsWith('@') ? 1 : 0);
    names.add(entry.slice(0, at).replace('+', '/'));
  }
  return names;
}

/**
 * The Dockerfile's own `pnpm deploy` command for one service, writing to `out` instead of /out,
 * as pnpm arguments: tests and the cold-start bench install exactly what the image holds.
 */
export function deployCommand(service: string, out: string, root = REPO_ROOT): string[] {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const line = /RUN (pnpm --filter "@cortex\/\$\{SERVICE\}" [^&\n]*deploy[^&\n]*\/out)/.exec(dockerfile)?.[1];
  if (!line) throw new Error('no pnpm deploy line in the Dockerfile');
  return line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((a) =>
      a
        .replaceAll('"', '')
        .replace(`\${SERVICE}`, service)
        .replace(/^\/out$/, out),
    );
}

/** Symlinks under `dir` with an absolute target: they would break once the folder is copied. */
export function absoluteLinks(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) {
      if (readlinkSync(path).startsWith('/')) found.push(path);
    } else if (st.isDirectory()) found.push(...absoluteLinks(path));
  }
  return found;
}
