import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceName } from '@cortex/testing';
import { childEnv } from '@cortex/testing';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A parent that never reaps: it makes itself the child subreaper (so the service, orphaned when
 * pnpm dies, is re-parented to it rather than to pid 1), starts the command in a new session (its
 * own process group), writes the command's pid and sleeps for ever. A child that dies stays a
 * zombie, as under the container inits and the pid 1 of the machine the issue was found on.
 */
const NEVER_REAPS = `
use strict; use POSIX ();
my ($pidfile, @cmd) = @ARGV;
my %prctl = (x86_64 => 157, aarch64 => 167);
my $nr = $prctl{(POSIX::uname())[4]};
my $subreaper = defined $nr && syscall($nr, 36, 1, 0, 0, 0) == 0 ? 1 : 0;
my $pid = fork() // die "fork: $!";
if ($pid == 0) { POSIX::setsid(); exec @cmd or die "exec: $!"; }
open my $fh, '>', $pidfile or die; print $fh "$pid $subreaper"; close $fh;
sleep while 1;
`;

export interface ProcState {
  state: string;
  ppid: number;
}

/** State letter and parent of a process, or undefined if there is no such process. */
export function procState(pid: number): ProcState | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] as string, ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (procState(Number(entry))?.ppid === pid) out.push(Number(entry));
  }
  return out;
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A service started exactly as the README tells users to: `pnpm --filter ./services/<name> start`,
 * under a parent that never reaps (see NEVER_REAPS). The first start picks a port; restarts reuse
 * it. Every start gets a fresh wrapper; `dispose()` ends them all.
 */
export class UserLaunchedService {
  port = 0;
  readonly logs: string[] = [];
  /** pnpm's pid, also its process group id. */
  launcherPid = 0;
  /** The node process that serves (pnpm's child). */
  serverPid = 0;
  /** Whether the wrapper became the child subreaper (else orphans go to pid 1, which may reap). */
  subreaper = false;
  private wrappers: ChildProcess[] = [];
  private run = 0;

  constructor(
    readonly name: ServiceName,
    private env: Record<string, string>,
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  setEnv(env: Record<string, string>) {
    this.env = { ...this.env, ...env };
  }

  async start(timeoutMs = 90_000): Promise<this> {
    const pidfile = join(tmpdir(), `user-launch-${process.pid}-${this.name}-${Date.now()}-${this.run++}`);
    const wrapper = spawn(
      'perl',
      ['-e', NEVER_REAPS, pidfile, 'pnpm', '--filter', `./services/${this.name}`, 'start'],
      {
        cwd: ROOT,
        env: childEnv(this.env, this.port),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.wrappers.push(wrapper);
    const listening = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not start:\n${this.logs.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          this.logs.push(line);
          if (this.logs.length > 2000) this.logs.splice(0, 1000);
          const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
          if (/failed to start|ERR_PNPM/.test(line)) {
            clearTimeout(timer);
            reject(new Error(`${this.name} failed to start:\n${this.logs.slice(-20).join('\n')}`));
          }
        }
      };
      wrapper.stdout?.on('data', onData);
      wrapper.stderr?.on('data', onData);
    });
    this.port = await listening;
    const [pid, subreaper] = readFileSync(pidfile, 'utf8').split(' ');
    this.launcherPid = Number(pid);
    this.subreaper = subreaper === '1';
    // pnpm runs `sh -c 'exec node …'`: its one child is the server.
    this.serverPid = await until(
      'the server process',
      () => childrenOf(this.launcherPid).find((p) => procState(p)?.state !== 'Z'),
      5000,
    );
    return this;
  }

  /** SIGKILL to the whole process group (pnpm and the server), as an OOM kill or `kill -9 -pgid`. */
  async killGroup(): Promise<{ launcher: string; server: string }> {
    process.kill(-this.launcherPid, 'SIGKILL');
    const gone = (pid: number) => {
      const s = procState(pid)?.state;
      return s === undefined || s === 'Z' ? (s ?? 'gone') : undefined;
    };
    return {
      launcher: await until('pnpm to die', () => gone(this.launcherPid), 10_000),
      server: await until('the server to die', () => gone(this.serverPid), 10_000),
    };
  }

  /** SIGTERM to pnpm only, as a user's `kill <pid>`; resolves when the server has exited. */
  async terminateLauncher(timeoutMs = 30_000): Promise<void> {
    process.kill(this.launcherPid, 'SIGTERM');
    await until(
      'the server to exit',
      () => {
        const s = procState(this.serverPid)?.state;
        return s === undefined || s === 'Z' ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** Whether the server process is still running (not a zombie, not gone). */
  get serverRunning(): boolean {
    const s = procState(this.serverPid)?.state;
    return s !== undefined && s !== 'Z';
  }

  /** Kills whatever is left and the wrappers (their zombies go to pid 1). */
  async dispose() {
    for (const pid of [this.serverPid, this.launcherPid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const w of this.wrappers.splice(0)) w.kill('SIGKILL');
  }
}
