import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDirectory } from './dir-lock';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'dir-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('lockDirectory', () => {
  it('refuses a directory another live process holds, naming it and the way out', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'LOCK'), String(process.ppid));
    expect(() => lockDirectory(dir, 'set SOME_DIR')).toThrow(
      `in use by process ${process.ppid} (set SOME_DIR)`,
    );
  });

  it('takes over the lock of a process that is gone, and releases it', () => {
    const dir = join(fresh(), 'created');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
    lockDirectory(dir, 'x')(); // creates the directory
    writeFileSync(join(dir, 'LOCK'), String(gone));
    const release = lockDirectory(dir, 'x');
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  });
});
