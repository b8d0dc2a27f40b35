import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from './ports';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export type ServiceName = 'gateway' | 'memory' | 'cognition';

/** How to run the service: by default its sources through tsx, as `pnpm start` does. */
export interface Launch {
  cwd: string;
  args: string[];
}

/** A script run from its sources, as `pnpm start` runs a service (`nodeArgs`: `--cpu-prof`, `--expose-gc`…). */
export function tsxLaunch(cwd: string, file = 'src/server.ts', nodeArgs: string[] = []): Launch {
  return { cwd, args: [...nodeArgs, '--conditions=@cortex/source', '--import', 'tsx', file] };
}

/** A workspace service (`services/<name>`) run from its sources. */
export const serviceLaunch = (name: ServiceName, nodeArgs: string[] = []) =>
  tsxLaunch(`${ROOT}/services/${name}`, 'src/server.ts', nodeArgs);

/** What a service process gets: PATH and HOME only from ours, loopback, its settings, its port. */
export function childEnv(env: Record<string, string>, port: number): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    HOST: '127.0.0.1',
    ...env,
    PORT: String(port),
  };
}

/**
 * How readiness is seen: the "listening" log line (the port may be 0, the kernel's choice), or a
 * 200 from `/health` on a port taken beforehand, for processes that log at `warn` (benches, where
 * request logging would dominate the profile).
 */
export type Readiness = 'log' | 'health';

/**
 * One service as a real process, started the way users start it (tsx src/server.ts). It first
 * listens on an ephemeral port; restarts reuse that port so clients and proxies keep working.
 */
export class ServiceProcess {
  port = 0;
  private child: ChildProcess | undefined;
  readonly logs: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();

  constructor(
    readonly name: string,
    private env: Record<string, string>,
    private readonly launch: Launch = serviceLaunch(name as ServiceName),
    private readonly readiness: Readiness = 'log',
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get running() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid() {
    return this.child?.pid;
  }

  /** Calls `fn` with every log line from now on, across restarts (`logs` keeps only the recent ones). */
  onLog(fn: (line: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  setEnv(env: Record<string, string>) {
    this.env = { ...this.env, ...env };
  }

  async start(timeoutMs = 90_000): Promise<this> {
    if (this.readiness === 'health' && this.port === 0) this.port = await freePort();
    const child = spawn(process.execPath, this.launch.args, {
      cwd: this.launch.cwd,
      env: childEnv(this.env, this.port),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const listening = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not start:\n${this.logs.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      const onLine = (line: string) => {
        this.logs.push(line);
        for (const l of this.listeners) l(line);
        if (this.logs.length > 2000) this.logs.splice(0, 1000);
        const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (m && this.readiness === 'log') {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      if (this.readiness === 'health') {
        void this.untilHealthy(child, timeoutMs).then(() => {
          clearTimeout(timer);
          resolve(this.port);
        });
      }
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const l of lines) onLine(l);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${this.name} exited (${signal ?? code}) before listening:\n${this.logs.slice(-20).join('\n')}`,
          ),
        );
      });
    });
    try {
      this.port = await listening;
    } catch (err) {
      await this.kill();
      throw err;
    }
    return this;
  }

  /** Resolves once `/health` answers; stays pending if the process exits or time runs out first. */
  private async untilHealthy(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.child === child && this.running) {
      try {
        const res = await request(`${this.url}/health`, { headersTimeout: 5000, bodyTimeout: 5000 });
        await res.body.dump();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return new Promise(() => {});
  }

  /** Sends a signal if running (SIGUSR2 asks a bench's gateway for a heap snapshot or GC). */
  signal(name: NodeJS.Signals) {
    if (this.running) this.child?.kill(name);
  }

  /**
   * SIGTERM and wait: the graceful path. Returns the exit code. A process still running after
   * `killAfterMs` is killed, so that a shutdown bug fails the test instead of hanging the suite.
   */
  async stop(killAfterMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const [code] = (await exited) as [number | null];
    clearTimeout(timer);
    return code;
  }

  /** SIGKILL: the crash path, nothing flushed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async restart() {
    await this.stop();
    return this.start();
  }
}
