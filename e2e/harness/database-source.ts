import type { StartedPostgreSqlContainer } from '@testcontainers/postgresql';

/**
 * Where the tests' PostgreSQL comes from. In order: `DATABASE_URL` (CI and this machine set it to
 * the local server); else a throwaway container through testcontainers, where a Docker engine
 * answers; else none, and the suites run on the embedded PGlite only.
 */
export interface DatabaseSource {
  kind: 'env' | 'container' | 'embedded';
  url: string | undefined;
  /** Why this source was chosen, for one log line. */
  reason: string;
  stop(): Promise<void>;
}

export interface SourceDeps {
  /** Resolves when a container runtime answers; rejects when there is none. */
  probeRuntime(): Promise<void>;
  startContainer(): Promise<{ url: string; stop(): Promise<void> }>;
}

const IMAGE = 'postgres:16-alpine';

const testcontainers: SourceDeps = {
  async probeRuntime() {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  },
  async startContainer() {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container: StartedPostgreSqlContainer = await new PostgreSqlContainer(IMAGE).start();
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  },
};

const nothing = async () => {};

export async function databaseSource(
  env: NodeJS.ProcessEnv = process.env,
  deps: SourceDeps = testcontainers,
): Promise<DatabaseSource> {
  if (env.DATABASE_URL) return { kind: 'env', url: env.DATABASE_URL, reason: 'DATABASE_URL', stop: nothing };
  if (env.TESTCONTAINERS === '0')
    return { kind: 'embedded', url: undefined, reason: 'TESTCONTAINERS=0', stop: nothing };
  try {
    await deps.probeRuntime();
  } catch {
    return { kind: 'embedded', url: undefined, reason: 'no container runtime', stop: nothing };
  }
  // A runtime that answers but cannot start the image (no registry, no space) is a broken machine,
  // not a reason to quietly test less: fail loudly.
  const container = await deps.startContainer();
  return { kind: 'container', url: container.url, reason: `testcontainers ${IMAGE}`, stop: container.stop };
}
