import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Claims `dir` for this process (a `LOCK` file holding its pid), so that a second process on the
 * same directory fails at start instead of corrupting what the first one writes. A lock left by a
 * process that is gone (killed, crashed) is taken over. Returns the release function.
 */
export function lockDirectory(dir: string, hint: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'LOCK');
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
    const holder = Number(readFileSync(lock, 'utf8'));
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new Error(`${dir} is in use by process ${holder} (${hint})`);
    }
    writeFileSync(lock, String(process.pid));
  }
  return () => {
    try {
      unlinkSync(lock);
    } catch {}
  };
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
