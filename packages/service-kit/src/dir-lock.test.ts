import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { holderAlive, holderOf, lockDirectory, parseHolder, procStat } from './dir-lock';

const dirs: string[] = [];
const children: ChildProcess[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'dir-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const plant = (dir: string, holder: object | string) =>
  writeFileSync(join(dir, 'LOCK'), typeof holder === 'string' ? holder : JSON.stringify(holder));

async function firstLine(child: ChildProcess): Promise<string> {
  let out = '';
  for await (const chunk of child.stdout as NodeJS.ReadableStream) {
    out += String(chunk);
    if (out.includes('\n')) return out.split('\n')[0] as string;
  }
  throw new Error(`no output; stderr: ${child.stderr?.read()}`);
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A process that locks `dir` through this module and then stays up until killed. */
async function lockingChild(dir: string): Promise<ChildProcess> {
  const module = fileURLToPath(new URL('./dir-lock.ts', import.meta.url));
  const script = `const { lockDirectory } = await import(${JSON.stringify(module)});
lockDirectory(${JSON.stringify(dir)}, 'child'); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(
    process.execPath,
    ['--conditions=@cortex/source', '--import', 'tsx', '--input-type=module', '-e', script],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  expect(await firstLine(child)).toBe('locked');
  return child;
}

describe('lockDirectory', () => {
  it('writes a record naming this process by pid, start time and boot, and releases it', () => {
    const dir = join(fresh(), 'created');
    const release = lockDirectory(dir, 'x');
    const holder = parseHolder(readFileSync(join(dir, 'LOCK'), 'utf8'));
    expect(holder).toEqual(holderOf(process.pid));
    expect(holder?.start).toMatch(/^\d+$/);
    expect(holder?.boot).toMatch(/^[0-9a-f-]{36}$/);
    expect(readdirSync(dir)).toEqual(['LOCK']); // no draft left behind
    release();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  });

  it('refuses a directory a live process really holds, naming it and the way out', async () => {
    const dir = fresh();
    const child = await lockingChild(dir);
    expect(parseHolder(readFileSync(join(dir, 'LOCK'), 'utf8'))?.pid).toBe(child.pid);
    expect(() => lockDirectory(dir, 'set SOME_DIR')).toThrow(`in use by process ${child.pid} (set SOME_DIR)`);
  });

  it('takes over the lock of a holder killed with SIGKILL', async () => {
    const dir = fresh();
    const child = await lockingChild(dir);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    expect(parseHolder(readFileSync(join(dir, 'LOCK'), 'utf8'))?.pid).toBe(child.pid); // left behind
    const release = lockDirectory(dir, 'x');
    expect(parseHolder(readFileSync(join(dir, 'LOCK'), 'utf8'))).toEqual(holderOf(process.pid));
    release();
  });

  it('takes over the lock of a zombie holder (exited, never reaped)', async () => {
    const dir = fresh();
    // sh starts `sleep 0` in the background and then becomes `sleep 30`, which never waits for it:
    // the finished `sleep 0` stays a zombie for as long as its parent lives.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(parent);
    const zombie = Number(await firstLine(parent));
    await until(() => procStat(zombie)?.state === 'Z', 'the zombie');
    let signalled = true;
    try {
      process.kill(zombie, 0);
    } catch {
      signalled = false;
    }
    expect(signalled).toBe(true); // what fooled the pid-only lock
    plant(dir, holderOf(zombie));
    expect(holderAlive(holderOf(zombie))).toBe(false);
    lockDirectory(dir, 'x')();
  });

  it('takes over a lock whose pid now belongs to an unrelated live process (a reused pid)', async () => {
    const dir = fresh();
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(unrelated);
    const pid = unrelated.pid as number;
    await until(() => procStat(pid) !== undefined, 'the process');
    const live = holderOf(pid);
    // The holder that wrote this record started at another time (or in another boot) than the
    // process that has its pid now.
    plant(dir, { ...live, start: String(Number(live.start) - 1) });
    lockDirectory(dir, 'x')();
    plant(dir, { ...live, boot: '00000000-0000-0000-0000-000000000000' });
    lockDirectory(dir, 'x')();
    // The same record with the right start time is that process, and is respected.
    plant(dir, live);
    expect(() => lockDirectory(dir, 'x')).toThrow(`in use by process ${pid}`);
  });

  it('takes over a lock of a process that is gone, in the bare-pid format of earlier versions', () => {
    const dir = fresh();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid as number;
    plant(dir, String(gone));
    lockDirectory(dir, 'x')();
    plant(dir, String(process.ppid));
    expect(() => lockDirectory(dir, 'x')).toThrow(`in use by process ${process.ppid}`);
  });

  it('treats an unreadable lock file as stale, and never removes a lock that is no longer its own', () => {
    const dir = fresh();
    plant(dir, 'garbage');
    const release = lockDirectory(dir, 'x');
    plant(dir, holderOf(process.ppid)); // taken over by someone else meanwhile
    release();
    expect(parseHolder(readFileSync(join(dir, 'LOCK'), 'utf8'))?.pid).toBe(process.ppid);
  });

  it('reads /proc stat lines whose command name holds spaces and parentheses', () => {
    const root = fresh();
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    fields[19] = '123456';
    mkdirSync(join(root, '42'));
    writeFileSync(join(root, '42', 'stat'), `42 (a) b (c)) ${fields.join(' ')}\n`);
    expect(procStat(42, root)).toEqual({ state: 'S', start: '123456' });
  });
});
