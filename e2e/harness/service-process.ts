import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type ServiceName = 'gateway' | 'memory' | 'cognition';

/** How to run the service: by default its sources through tsx, as `pnpm start` does. */
export interface Launch {
  cwd: string;
  args: string[];
}

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
    readonly name: ServiceName,
    private env: Record<string, string>,
    private readonly launch: Launch = {
      cwd: `${ROOT}/services/${name}`,
      args: ['--conditions=@cortex/source', '--import', 'tsx', 'src/server.ts'],
    },
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
    const child = spawn(process.execPath, this.launch.args, {
      cwd: this.launch.cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        HOST: '127.0.0.1',
        ...this.env,
        PORT: String(this.port),
      },
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
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
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
    this.port = await listening;
    return this;
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
