import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultProxy } from '@cortex/fault-proxy';
import { freePort, isolatedSchemaUrl, ServiceProcess, serviceSecretsEnv, TEST_SECRET } from '@cortex/testing';

export type DatabaseMode = 'postgres' | 'pglite';

/** Which databases the e2e suite runs against: the real server when DATABASE_URL is set, and PGlite. */
export function databaseModes(): DatabaseMode[] {
  return process.env.DATABASE_URL ? ['postgres', 'pglite'] : ['pglite'];
}

/** The one database a scenario runs on when the database is not what it is about: the real server if any. */
export function primaryMode(): DatabaseMode {
  return process.env.DATABASE_URL ? 'postgres' : 'pglite';
}

export interface SystemOptions {
  database: DatabaseMode;
  env?: Partial<Record<'memory' | 'cognition' | 'gateway', Record<string, string>>>;
  /** Start memory now (default) or leave it for the test to start. */
  startMemory?: boolean;
  /** A FaultProxy in front of memory: the gateways and cognition reach memory only through it. */
  memoryProxy?: boolean;
  /** A FaultProxy between memory and PostgreSQL (postgres mode only). */
  databaseProxy?: boolean;
  /** Gateway replicas sharing memory and cognition, each with its own pending store (default 1). */
  gateways?: number;
  /** Use this as memory (an impostor) instead of starting the memory service. */
  memoryUrl?: string;
  /** Use this as cognition (an impostor) instead of starting the cognition service. */
  cognitionUrl?: string;
}

/** The three services as separate processes on ephemeral ports, wired together. */
export class System {
  readonly memory: ServiceProcess;
  readonly cognition: ServiceProcess;
  readonly gateways: ServiceProcess[] = [];
  memoryProxy: FaultProxy | undefined;
  databaseProxy: FaultProxy | undefined;
  /** In postgres mode: the isolated schema's URL, reached directly (not through any proxy). */
  databaseUrl: string | undefined;
  /** What the gateways and cognition use as memory: the proxy, an impostor, or memory itself. */
  memoryUrl = '';
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private readonly extraMemories: ServiceProcess[] = [];
  readonly workDir: string;
  private readonly common: Record<string, string>;

  private constructor(
    readonly options: SystemOptions,
    memoryEnv: Record<string, string>,
  ) {
    this.workDir = mkdtempSync(join(tmpdir(), 'cortex-e2e-'));
    this.cleanups.push(() => rmSync(this.workDir, { recursive: true, force: true }));
    // Run as production runs: real, distinct, strong secrets, each service given only those it
    // needs. Short breaker waits keep recovery scenarios to seconds; the behaviour is the same.
    this.common = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      RESILIENCE_MEMORY_BREAKER_OPEN_MS: '500',
      RESILIENCE_MEMORY_BREAKER_MAX_OPEN_MS: '2000',
      RESILIENCE_COGNITION_BREAKER_OPEN_MS: '500',
      RESILIENCE_COGNITION_BREAKER_MAX_OPEN_MS: '2000',
    };
    this.memory = new ServiceProcess('memory', {
      ...this.common,
      ...serviceSecretsEnv('memory'),
      ...memoryEnv,
      ...options.env?.memory,
    });
    this.cognition = new ServiceProcess('cognition', {
      ...this.common,
      ...serviceSecretsEnv('cognition'),
      ...options.env?.cognition,
    });
    const replicas = options.gateways ?? 1;
    for (let i = 0; i < replicas; i++) {
      this.gateways.push(
        new ServiceProcess('gateway', {
          ...this.common,
          JWT_SECRET: TEST_SECRET,
          ...serviceSecretsEnv('gateway'),
          PENDING_STORE_DIR: join(this.workDir, i === 0 ? 'pending' : `pending-${i}`),
          ...options.env?.gateway,
        }),
      );
    }
  }

  /** The first gateway replica. */
  get gateway(): ServiceProcess {
    return this.gateways[0] as ServiceProcess;
  }

  static async start(options: SystemOptions): Promise<System> {
    let memoryEnv: Record<string, string> = {};
    let drop: (() => Promise<void>) | undefined;
    let databaseUrl: string | undefined;
    if (options.database === 'postgres' && options.memoryUrl === undefined) {
      const iso = await isolatedSchemaUrl(process.env.DATABASE_URL as string);
      drop = iso.drop;
      databaseUrl = iso.url;
      memoryEnv = { DATABASE_URL: iso.url };
    }
    const system = new System(options, memoryEnv);
    system.databaseUrl = databaseUrl;
    if (options.database === 'pglite')
      system.memory.setEnv({ PGLITE_DATA_DIR: join(system.workDir, 'pglite') });
    if (drop) system.cleanups.push(drop);
    try {
      if (options.databaseProxy) await system.proxyDatabase();
      if (options.memoryUrl !== undefined) system.memoryUrl = options.memoryUrl;
      else {
        if (options.startMemory !== false) await system.memory.start();
        else await system.reserveMemoryPort();
        system.memoryUrl = system.memory.url;
        if (options.memoryProxy) {
          system.memoryProxy = await FaultProxy.start({ port: system.memory.port });
          system.memoryUrl = system.memoryProxy.url;
        }
      }
      let cognitionUrl = options.cognitionUrl;
      if (cognitionUrl === undefined) {
        system.cognition.setEnv({ MEMORY_SERVICE_URL: system.memoryUrl });
        await system.cognition.start();
        cognitionUrl = system.cognition.url;
      }
      for (const gateway of system.gateways) {
        gateway.setEnv({ MEMORY_SERVICE_URL: system.memoryUrl, COGNITION_SERVICE_URL: cognitionUrl });
      }
      // One after the other: parallel starts only compete for this machine's two cores.
      for (const gateway of system.gateways) await gateway.start();
    } catch (err) {
      await system.stop();
      throw err;
    }
    return system;
  }

  /** Memory's connection string through a FaultProxy to the same server and schema. */
  private async proxyDatabase() {
    if (this.databaseUrl === undefined) throw new Error('databaseProxy needs the postgres mode');
    const url = new URL(this.databaseUrl);
    this.databaseProxy = await FaultProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(this.databaseProxy.port);
    this.memory.setEnv({ DATABASE_URL: url.toString() });
  }

  /**
   * Another memory instance on the same PostgreSQL schema (postgres mode only: PGlite belongs to
   * one process). Not behind the memory proxy; stopped with the system.
   */
  async addMemory(env: Record<string, string> = {}): Promise<ServiceProcess> {
    if (this.databaseUrl === undefined) throw new Error('a second memory needs the postgres mode');
    const extra = new ServiceProcess('memory', {
      ...this.common,
      ...serviceSecretsEnv('memory'),
      DATABASE_URL: this.databaseUrl,
      ...this.options.env?.memory,
      ...env,
    });
    this.extraMemories.push(extra);
    return extra.start();
  }

  /** Picks a free port for memory without starting it, so others can be pointed at it. */
  private async reserveMemoryPort() {
    this.memory.port = await freePort();
  }

  async stop() {
    await Promise.all([
      ...this.gateways.map((g) => g.stop()),
      this.cognition.stop(),
      this.memory.stop(),
      ...this.extraMemories.map((m) => m.stop()),
    ]);
    await this.memoryProxy?.close();
    await this.databaseProxy?.close();
    for (const c of this.cleanups.reverse()) await c();
  }
}
