import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedSchemaUrl } from '@cortex/testing';
import { DATABASE_URL } from './env';
import { freePort } from './ports';
import { BenchService } from './service';
import { BENCH_GATEWAY_SERVICE_SECRET } from './service-tokens';
import { BENCH_SECRET } from './tokens';

// Benches measure the pipeline, not the guards: rate limiting and load shedding are off.
export const BENCH_GATEWAY_ENV = {
  JWT_SECRET: BENCH_SECRET,
  GATEWAY_SERVICE_SECRET: BENCH_GATEWAY_SERVICE_SECRET,
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
export function passedThrough(prefix: 'BENCH_GATEWAY_' | 'BENCH_MEMORY_', source = process.env) {
  return Object.fromEntries(
    Object.entries(source)
      .filter(([k, v]) => k.startsWith(prefix) && v !== undefined)
      .map(([k, v]) => [k.slice(prefix.length), v as string]),
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
  memory: BenchService | undefined;
  gateway!: BenchService;
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
      this.memory = new BenchService('memory', {
        env: {
          DATABASE_URL: iso.url,
          GATEWAY_SERVICE_SECRET: BENCH_GATEWAY_SERVICE_SECRET,
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
    this.gateway = new BenchService('gateway', {
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
