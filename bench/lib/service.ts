import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from './ports';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type ServiceName = 'gateway' | 'memory' | 'cognition' | 'naive' | 'floor';

export interface ServiceOptions {
  env: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof` or `--expose-gc`. */
  nodeArgs?: string[];
  /** Another script than the service's `src/server.ts` (the bench's own comparison servers). */
  script?: { cwd: string; file: string };
}

/**
 * One service as a real process, started as users start it (node --import tsx src/server.ts).
 * Unlike the e2e harness, readiness is polled on /health, not read from the "listening" log line,
 * so benches can run services at LOG_LEVEL=warn (request logging would dominate the profile).
 */
/** The bench's own `OTEL_*` variables, passed on to the services it starts. */
function otelEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[0].startsWith('OTEL_') && e[1] !== undefined,
    ),
  );
}

export class BenchService {
  port = 0;
  private child: ChildProcess | undefined;
  private readonly tail: string[] = [];

  constructor(
    readonly name: ServiceName,
    private readonly options: ServiceOptions,
  ) {}

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.child?.pid;
  }

  get running() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process printed (warnings and errors at LOG_LEVEL=warn). */
  get logs(): readonly string[] {
    return this.tail;
  }

  async start(timeoutMs = 60_000): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn(
      process.execPath,
      [
        ...(this.options.nodeArgs ?? []),
        '--conditions=@cortex/source',
        '--import',
        'tsx',
        this.options.script?.file ?? 'src/server.ts',
      ],
      {
        cwd: this.options.script?.cwd ?? `${ROOT}/services/${this.name}`,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          // A bench run with OTEL_* set measures the services with tracing on (docs/tracing.md).
          ...otelEnv(),
          ...this.options.env,
          PORT: String(this.port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) this.tail.push(line);
      if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`${this.name} exited before it was ready:\n${this.tail.slice(-20).join('\n')}`);
      }
      try {
        const res = await request(`${this.url}/health`, { headersTimeout: 5000, bodyTimeout: 5000 });
        await res.body.dump();
        return this;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await this.kill();
    throw new Error(`${this.name} was not ready in ${timeoutMs} ms:\n${this.tail.slice(-20).join('\n')}`);
  }

  signal(name: NodeJS.Signals) {
    if (this.running) this.child?.kill(name);
  }

  /** SIGTERM and wait (the graceful path, which also writes --cpu-prof files). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
