import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * The paths, relative to `nodeModules`, that a package installed by pnpm needs in order to load:
 * its top-level link and every `.pnpm/<entry>` of its dependency closure.
 *
 * The images install production dependencies only, but the services run through tsx, which only
 * the root lists (as a devDependency). Rather than ship biome, typescript and vitest to keep it,
 * the Dockerfiles save tsx's closure from a full install and lay it over the production one. In
 * pnpm's layout each `.pnpm/<entry>/node_modules` holds the package itself beside links to its
 * dependencies, so following those links finds the closure whatever tsx comes to depend on.
 */
export function pnpmClosure(nodeModules: string, name: string): string[] {
  const store = realpathSync(join(nodeModules, '.pnpm'));
  const entries = new Set<string>();
  const pending = [entryOf(store, realpathSync(join(nodeModules, name)), name)];
  for (let entry = pending.pop(); entry !== undefined; entry = pending.pop()) {
    if (entries.has(entry)) continue;
    entries.add(entry);
    for (const dep of packagesIn(join(store, entry, 'node_modules'))) {
      pending.push(entryOf(store, realpathSync(dep), dep));
    }
  }
  return [name, ...[...entries].sort().map((e) => `.pnpm/${e}`)];
}

function entryOf(store: string, real: string, shown: string): string {
  const rel = relative(store, real);
  const entry = rel.split(sep)[0];
  if (!entry || rel.startsWith('..')) {
    // A workspace package: it is not in the store and the image copies the sources anyway, but a
    // closure that silently left it out would fail only when the container starts.
    throw new Error(`${shown} resolves outside the pnpm store (${real})`);
  }
  return entry;
}

/** Every package directory or link in a node_modules folder, scoped ones included. */
function packagesIn(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (name.startsWith('@') && !lstatSync(path).isSymbolicLink()) {
      for (const scoped of readdirSync(path)) found.push(join(path, scoped));
    } else {
      found.push(path);
    }
  }
  return found;
}
