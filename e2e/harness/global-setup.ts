import { databaseSource } from './database-source';

/**
 * Vitest global setup: settles which PostgreSQL the run uses before any worker starts, so every
 * test file (which reads DATABASE_URL) sees the same one, and a container started here is
 * stopped once at the end.
 */
export default async function setup() {
  const source = await databaseSource();
  if (source.url) process.env.DATABASE_URL = source.url;
  // .ci/run checks this line to know which Node a run used: the services the tests spawn use the same.
  console.log(`[tests] Node ${process.version} (${process.execPath})`);
  console.log(
    `[tests] PostgreSQL: ${source.kind === 'embedded' ? 'embedded PGlite only' : 'a real server and the embedded PGlite'} (${source.reason})`,
  );
  return () => source.stop();
}
