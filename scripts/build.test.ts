import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProject, sourceFiles, workspaceProjects } from './build';

const dir = mkdtempSync(join(tmpdir(), 'build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny package in the repository's style: extensionless relative imports, a folder index. */
function project(root: string) {
  const write = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('package.json', JSON.stringify({ type: 'module' }));
  write(
    'src/server.ts',
    "import { greet } from './lib';\nimport type { Name } from './types';\nconst n: Name = 'built';\nconsole.log(greet(n), new URL('../assets/x.txt', import.meta.url).pathname.endsWith('/assets/x.txt'));\n",
  );
  write('src/lib/index.ts', "export { greet } from './greet';\n");
  write('src/lib/greet.ts', "export const greet = (name: string): string => 'hello ' + name;\n");
  write('src/types.ts', 'export type Name = string;\n');
  write('src/lib/greet.test.ts', "throw new Error('tests are not built');\n");
}

describe('buildProject', () => {
  it('emits one .js per source file (tests left out) that node runs as is', async () => {
    const root = join(dir, 'p');
    project(root);
    const emitted = await buildProject(root);
    expect(emitted.map((f) => f.slice(root.length + 1)).sort()).toEqual([
      'dist/lib/greet.js',
      'dist/lib/index.js',
      'dist/server.js',
      'dist/types.js',
    ]);
    expect(existsSync(join(root, 'dist/lib/greet.test.js'))).toBe(false);
    // Relative imports now name the emitted files, a folder import its index.
    expect(readFileSync(join(root, 'dist/server.js'), 'utf8')).toContain('from "./lib/index.js"');
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/server.js'], { cwd: root });
    // Same folder depth as the source, so module-relative paths still point where they did.
    expect(stdout.trim()).toBe('hello built true');
  });

  it('starts from an empty dist, so a deleted source leaves no stale output', async () => {
    const root = join(dir, 'q');
    project(root);
    await buildProject(root);
    rmSync(join(root, 'src/types.ts'));
    writeFileSync(join(root, 'src/server.ts'), "console.log('ok');\n");
    await buildProject(root);
    expect(existsSync(join(root, 'dist/types.js'))).toBe(false);
  });
});

describe('the workspace', () => {
  it('builds every package and service, each with its server or index entry', () => {
    const names = workspaceProjects().map((p) => p.split('/').slice(-2).join('/'));
    expect(names).toEqual(
      expect.arrayContaining([
        'packages/errors',
        'packages/network-client',
        'packages/resilience',
        'packages/service-kit',
        'services/gateway',
        'services/memory',
        'services/cognition',
      ]),
    );
    for (const p of workspaceProjects()) {
      const files = sourceFiles(join(p, 'src'));
      expect(
        files.some((f) => /\/src\/(server|index)\.ts$/.test(f)),
        p,
      ).toBe(true);
      expect(
        files.some((f) => f.endsWith('.test.ts')),
        p,
      ).toBe(false);
    }
  });
});
