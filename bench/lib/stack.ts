import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  isolatedSchemaUrl,
  type ServiceName,
  ServiceProcess,
  serviceLaunch,
  serviceSecretsEnv,
  TEST_SECRET,
  tsxLaunch,
} from '@cortex/testing';
import { DATABASE_URL } from './env';

// Benches measure the pipeline, not the guards: rate limiting and load shedding are off.
export const BENCH_GATEWAY_ENV = {
  JWT_SECRET: TEST_SECRET,
  ...serviceSecretsEnv('gateway'),
  RATE_LIMIT_PER_MINUTE: '0',
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '0',
  MAX_EVENT_LOOP_DELAY_MS: '0',
  PENDING_MAX_ITEMS: '10000000',
  PENDING_MAX_BYTES: String(8 * 1024 * 1024 * 1024),
};

/**
 * `BENCH_GATEWAY_X=v` / `BENCH_MEMORY_X=v` in the bench's environment set `X=v` for that service:
 * any service setting can be tried from the command line (options given in code win).
 */
function passedThrough(prefix: 'BENCH_GATEWAY_' | 'BENCH_MEMORY_', source = process.env) {
  return Object.fromEntries(
    Object.entries(source)
      .filter(([k, v]) => k.startsWith(prefix) && v !== undefined)
      .map(([k, v]) => [k.slice(prefix.length), v as string]),
  );
}

/** The bench's own `OTEL_*` variables, passed on: a run with them set measures tracing on (docs/tracing.md). */
function otelEnv(source = process.env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).filter(
      (e): e is [string, string] => e[0].startsWith('OTEL_') && e[1] !== undefined,
    ),
  );
}

export interface BenchServiceOptions {
  env: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof` or `--expose-gc`. */
  nodeArgs?: string[];
  /** Another script than the service's `src/server.ts` (the bench's own comparison servers). */
  script?: { cwd: string; file: string };
}

/**
 * A service (or a bench's own comparison server) as benches run it: logging at `warn`, because
 * request logging would dominate the profile, so it is ready when `/health` answers.
 */
export function benchService(name: string, options: BenchServiceOptions): ServiceProcess {
  const launch = options.script
    ? tsxLaunch(options.script.cwd, options.script.file, options.nodeArgs)
    : serviceLaunch(name as ServiceName, options.nodeArgs);
  // A product service knows the test secrets of the services that call it, as in production.
  const secrets = options.script ? {} : serviceSecretsEnv(name as ServiceName);
  return new ServiceProcess(
    name,
    { LOG_LEVEL: 'warn', ...secrets, ...otelEnv(), ...options.env },
    launch,
    'health',
  );
}

export interface StackOptions {
  /** Start a memory process on PostgreSQL (default true); false points the gateway at `memoryUrl`. */
  memory?: boolean;
  memoryUrl?: string;
  /** Called with memory's URL to put something (a fault proxy) between gateway and memory. */
  wrapMemoryUrl?: (memoryUrl: string) => Promise<string> | string;
  memoryEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  gatewayNodeArgs?: string[];
  memoryNodeArgs?: string[];
}

/**
 * Gateway (and memory on its own schema of DATABASE_URL) as real processes on ephemeral ports.
 * Cognition is not started: no bench route uses it, and an idle process would only take memory.
 */
export class Stack {
  memory: ServiceProcess | undefined;
  gateway!: ServiceProcess;
  /** The schema-scoped URL memory writes to, for row counts. */
  databaseUrl: string | undefined;
  readonly workDir = mkdtempSync(join(tmpdir(), 'cortex-bench-'));
  private dropSchema: (() => Promise<void>) | undefined;

  static async start(options: StackOptions = {}): Promise<Stack> {
    const stack = new Stack();
    try {
      await stack.boot(options);
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  private async boot(options: StackOptions) {
    let memoryUrl = options.memoryUrl;
    if (options.memory !== false) {
      const iso = await isolatedSchemaUrl(DATABASE_URL);
      this.dropSchema = iso.drop;
      this.databaseUrl = iso.url;
      this.memory = benchService('memory', {
        env: {
          DATABASE_URL: iso.url,
          ...serviceSecretsEnv('memory'),
          ...passedThrough('BENCH_MEMORY_'),
          ...options.memoryEnv,
        },
        nodeArgs: options.memoryNodeArgs ?? [],
      });
      await this.memory.start();
      memoryUrl = this.memory.url;
    }
    if (memoryUrl === undefined) throw new Error('no memory: give memoryUrl or let the stack start one');
    if (options.wrapMemoryUrl) memoryUrl = await options.wrapMemoryUrl(memoryUrl);
    // Nothing listens here: /context is not benched, and a refused port costs nothing.
    const cognitionUrl = `http://127.0.0.1:${await freePort()}`;
    this.gateway = benchService('gateway', {
      env: {
        ...BENCH_GATEWAY_ENV,
        MEMORY_SERVICE_URL: memoryUrl,
        COGNITION_SERVICE_URL: cognitionUrl,
        PENDING_STORE_DIR: join(this.workDir, 'pending'),
        ...passedThrough('BENCH_GATEWAY_'),
        ...options.gatewayEnv,
      },
      nodeArgs: options.gatewayNodeArgs ?? [],
    });
    await this.gateway.start();
  }

  async stop() {
    await Promise.all([this.gateway?.stop(), this.memory?.stop()]);
    await this.dropSchema?.().catch(() => {});
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
