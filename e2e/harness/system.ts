import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolatedSchemaUrl } from '@cortex/memory/testing';
import { ServiceProcess } from './service-process';
import { TEST_SECRET } from './tokens';

export type DatabaseMode = 'postgres' | 'pglite';

/** Which databases the e2e suite runs against: the real server when DATABASE_URL is set, and PGlite. */
export function databaseModes(): DatabaseMode[] {
  return process.env.DATABASE_URL ? ['postgres', 'pglite'] : ['pglite'];
}

export interface SystemOptions {
  database: DatabaseMode;
  env?: Partial<Record<'memory' | 'cognition' | 'gateway', Record<string, string>>>;
  /** Start memory now (default) or leave it for the test to start. */
  startMemory?: boolean;
}

/** The three services as separate processes on ephemeral ports, wired together. */
export class System {
  readonly memory: ServiceProcess;
  readonly cognition: ServiceProcess;
  readonly gateway: ServiceProcess;
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  readonly workDir: string;

  private constructor(
    readonly options: SystemOptions,
    memoryEnv: Record<string, string>,
  ) {
    this.workDir = mkdtempSync(join(tmpdir(), 'cortex-e2e-'));
    this.cleanups.push(() => rmSync(this.workDir, { recursive: true, force: true }));
    // Short breaker waits keep recovery scenarios to seconds; the behaviour is the same.
    const common = {
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_SECRET,
      RESILIENCE_MEMORY_BREAKER_OPEN_MS: '500',
      RESILIENCE_MEMORY_BREAKER_MAX_OPEN_MS: '2000',
      RESILIENCE_COGNITION_BREAKER_OPEN_MS: '500',
      RESILIENCE_COGNITION_BREAKER_MAX_OPEN_MS: '2000',
    };
    this.memory = new ServiceProcess('memory', { ...common, ...memoryEnv, ...options.env?.memory });
    this.cognition = new ServiceProcess('cognition', { ...common, ...options.env?.cognition });
    this.gateway = new ServiceProcess('gateway', {
      ...common,
      PENDING_STORE_DIR: join(this.workDir, 'pending'),
      ...options.env?.gateway,
    });
  }

  static async start(options: SystemOptions): Promise<System> {
    let memoryEnv: Record<string, string>;
    let drop: (() => Promise<void>) | undefined;
    if (options.database === 'postgres') {
      const iso = await isolatedSchemaUrl(process.env.DATABASE_URL as string);
      drop = iso.drop;
      memoryEnv = { DATABASE_URL: iso.url };
    } else {
      memoryEnv = {};
    }
    const system = new System(options, memoryEnv);
    if (options.database === 'pglite')
      system.memory.setEnv({ PGLITE_DATA_DIR: join(system.workDir, 'pglite') });
    if (drop) system.cleanups.push(drop);
    try {
      if (options.startMemory !== false) await system.memory.start();
      else await system.reserveMemoryPort();
      const memoryUrl = system.memory.url;
      system.cognition.setEnv({ MEMORY_SERVICE_URL: memoryUrl });
      await system.cognition.start();
      system.gateway.setEnv({ MEMORY_SERVICE_URL: memoryUrl, COGNITION_SERVICE_URL: system.cognition.url });
      await system.gateway.start();
    } catch (err) {
      await system.stop();
      throw err;
    }
    return system;
  }

  /** Picks a free port for memory without starting it, so others can be pointed at it. */
  private async reserveMemoryPort() {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.memory.port = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop() {
    await Promise.all([this.gateway.stop(), this.cognition.stop(), this.memory.stop()]);
    for (const c of this.cleanups.reverse()) await c();
  }
}
