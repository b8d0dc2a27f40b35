import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../compose-file';
import { pnpmClosure } from './pnpm-closure';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'pnpm-closure-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package directory in a fake virtual store, `links` naming the entries it depends on. */
function storeEntry(nodeModules: string, entry: string, name: string, links: Record<string, string> = {}) {
  const own = join(nodeModules, '.pnpm', entry, 'node_modules');
  mkdirSync(join(own, name), { recursive: true });
  writeFileSync(join(own, name, 'package.json'), JSON.stringify({ name }));
  for (const [dep, target] of Object.entries(links)) {
    mkdirSync(dirname(join(own, dep)), { recursive: true });
    symlinkSync(join(nodeModules, '.pnpm', target, 'node_modules', dep), join(own, dep));
  }
}

describe('pnpmClosure', () => {
  it('follows links through scoped packages and cycles, once each', () => {
    const nm = join(tempDir(), 'node_modules');
    storeEntry(nm, 'a@1.0.0', 'a', { b: 'b@2.0.0', '@s/c': '@s+c@3.0.0' });
    storeEntry(nm, 'b@2.0.0', 'b', { a: 'a@1.0.0' });
    storeEntry(nm, '@s+c@3.0.0', '@s/c');
    storeEntry(nm, 'unrelated@1.0.0', 'unrelated');
    symlinkSync(join(nm, '.pnpm/a@1.0.0/node_modules/a'), join(nm, 'a'));
    expect(pnpmClosure(nm, 'a')).toEqual(['a', '.pnpm/@s+c@3.0.0', '.pnpm/a@1.0.0', '.pnpm/b@2.0.0']);
  });

  it('refuses a dependency outside the store rather than leave it out', () => {
    const root = tempDir();
    const nm = join(root, 'node_modules');
    mkdirSync(join(root, 'packages/local'), { recursive: true });
    storeEntry(nm, 'a@1.0.0', 'a');
    symlinkSync(join(root, 'packages/local'), join(nm, '.pnpm/a@1.0.0/node_modules/local'));
    symlinkSync(join(nm, '.pnpm/a@1.0.0/node_modules/a'), join(nm, 'a'));
    expect(() => pnpmClosure(nm, 'a')).toThrow(/outside the pnpm store/);
  });

  it("copies a working tsx out of this repository's install, as the images do", async () => {
    const from = join(REPO_ROOT, 'node_modules');
    const paths = pnpmClosure(from, 'tsx');
    expect(paths[0]).toBe('tsx');
    expect(paths.some((p) => p.startsWith('.pnpm/esbuild@'))).toBe(true);

    const app = tempDir();
    for (const p of paths)
      cpSync(join(from, p), join(app, 'node_modules', p), { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(app, 'main.ts'), "const typed: string = 'ran as TypeScript';\nconsole.log(typed);\n");
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'main.ts'], {
      cwd: app,
    });
    expect(stdout.trim()).toBe('ran as TypeScript');
  });
});
