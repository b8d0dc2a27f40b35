import { buildMemoryApp } from '@cortex/memory';
// Not exported by @cortex/memory's entry point; the path is the memory service's own env loader.
import { loadMemoryEnv } from '@cortex/memory/env';
import { freePort } from './ports';

type Database = NonNullable<Parameters<typeof buildMemoryApp>[0]['db']>;

export type MemoryApp = Awaited<ReturnType<typeof buildMemoryApp>>;

/**
 * A real memory service listening on 127.0.0.1, port 0: on the given database, else on embedded,
 * in-RAM PGlite.
 */
export async function startMemory(db?: Database): Promise<{ app: MemoryApp; url: string }> {
  const app = await buildMemoryApp({
    env: loadMemoryEnv({ LOG_LEVEL: 'silent', PGLITE_DATA_DIR: 'memory://' }),
    ...(db ? { db } : {}),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}

/** A URL nothing listens on: a port taken from the OS and given back. */
export async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
