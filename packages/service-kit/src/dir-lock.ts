import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Who holds a lock: a pid alone proves nothing (`kill(pid, 0)` succeeds on a zombie, and pids are
 * reused, in containers within seconds), so the record also names the process's start time (in
 * clock ticks since boot, from /proc/<pid>/stat) and the boot it belongs to. Together they name
 * one process for ever: a record whose process is gone, a zombie, or another process that got
 * the same pid later, is stale.
 */
export interface LockHolder {
  pid: number;
  /** /proc/<pid>/stat field 22; absent where /proc is not available (then the pid alone decides). */
  start?: string | undefined;
  /** /proc/sys/kernel/random/boot_id; a record from another boot is always stale. */
  boot?: string | undefined;
}

const record = z.object({
  pid: z.number().int().positive(),
  start: z.string().optional(),
  boot: z.string().optional(),
});

/** What the lock file says; a bare pid is the format of earlier versions. */
export function parseHolder(text: string): LockHolder | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const parsed = record.safeParse(JSON.parse(trimmed));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The state letter and start time of a process, from /proc; undefined if there is no such process. */
export function procStat(pid: number, procRoot = '/proc'): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const start = rest[19];
  return state && start ? { state, start } : undefined;
}

function bootId(procRoot: string): string | undefined {
  try {
    return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** This process (or `pid`) as a lock record. */
export function holderOf(pid = process.pid, procRoot = '/proc'): LockHolder {
  return { pid, start: procStat(pid, procRoot)?.start, boot: bootId(procRoot) };
}

/**
 * Whether the process a record names is still running. Without /proc (not Linux) only the pid can
 * be asked, with the weaknesses above.
 */
export function holderAlive(holder: LockHolder, procRoot = '/proc'): boolean {
  const boot = bootId(procRoot);
  if (boot !== undefined) {
    if (holder.boot !== undefined && holder.boot !== boot) return false;
    const stat = procStat(holder.pid, procRoot);
    // Z: exited, waiting for a parent that may never reap it; X: being torn down.
    if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
    // A bare-pid record (an earlier version's) cannot tell a reused pid from its holder.
    return holder.start === undefined || holder.start === stat.start;
  }
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

export interface LockOptions {
  /** Where /proc is (tests point it elsewhere). */
  procRoot?: string;
}

/**
 * Claims `dir` for this process, so that a second process on the same directory fails at start
 * instead of corrupting what the first one writes. The `LOCK` file names its holder (see
 * `LockHolder`); a lock whose holder is dead, a zombie or an unrelated process with a reused pid is
 * taken over, so a killed service always starts again on its directory. Returns the release
 * function, which removes the lock only while it is still ours.
 *
 * Why a record and not `flock`: Node has no `flock`, and the native packages that add it need a
 * build or a prebuilt binary per Node ABI; /proc answers the same question without either.
 */
export function lockDirectory(dir: string, hint: string, options: LockOptions = {}): () => void {
  const procRoot = options.procRoot ?? '/proc';
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'LOCK');
  const mine = JSON.stringify(holderOf(process.pid, procRoot));
  // Written aside and linked into place: the lock appears whole or not at all (link fails if it exists).
  const draft = join(dir, `LOCK.${process.pid}.draft`);
  writeFileSync(draft, mine);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, lock);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      let text: string;
      try {
        text = readFileSync(lock, 'utf8');
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') continue; // released meanwhile
        throw err;
      }
      const holder = parseHolder(text);
      if (holder && holder.pid !== process.pid && holderAlive(holder, procRoot)) {
        throw new Error(`${dir} is in use by process ${holder.pid} (${hint})`);
      }
      // Stale (or unreadable): move it aside, and only if what we moved is what we judged, so
      // that two processes taking over the same stale lock at once cannot both succeed.
      const aside = join(dir, `LOCK.${process.pid}.stale`);
      try {
        renameSync(lock, aside);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') continue;
        throw err;
      }
      const moved = readFileSync(aside, 'utf8');
      if (moved !== text) {
        // Someone else's fresh lock: put it back unless a third one is there by now.
        try {
          linkSync(aside, lock);
        } catch {}
        unlinkSync(aside);
        throw new Error(`${dir} is in use by another process starting at the same time (${hint})`);
      }
      unlinkSync(aside);
    }
  } finally {
    try {
      unlinkSync(draft);
    } catch {}
  }
  return () => {
    try {
      if (readFileSync(lock, 'utf8') === mine) unlinkSync(lock);
    } catch {}
  };
}
