import type { FastifyInstance } from 'fastify';
import { EnvError } from './env';
import { watchParent } from './parent-watch';

export interface RunOptions {
  port: number;
  host: string;
  /** Upper bound for a graceful stop before the process exits anyway. */
  shutdownTimeoutMs?: number;
  /**
   * Stop gracefully when the launching process dies (see `watchParent`). Default: when launched by
   * a package-manager script (`pnpm --filter ./services/x start` sets `npm_lifecycle_event`), whose
   * death would otherwise leave the service running unseen, holding its port and directory; not
   * when started directly (`node …` under a shell, in a container as PID 1).
   */
  exitWithParent?: boolean;
  /** How often the parent is looked at. Default 1000 ms. */
  parentCheckMs?: number;
}

/**
 * Listens and turns SIGTERM/SIGINT (and the death of the launcher, see `exitWithParent`) into a
 * graceful stop: stop accepting, let in-flight requests and onClose hooks (flushes, pool
 * shutdowns) finish, exit 0.
 */
export async function runService(
  build: () => Promise<FastifyInstance> | FastifyInstance,
  options: RunOptions,
) {
  let app: FastifyInstance;
  try {
    app = await build();
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    if (err instanceof EnvError) {
      console.error(err.message);
    } else {
      console.error(`failed to start: ${(err as Error)?.message ?? String(err)}`);
    }
    process.exit(1);
  }
  let stopping = false;
  let unwatch = () => {};
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    unwatch();
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error('graceful shutdown timed out');
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 15_000);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (options.exitWithParent ?? process.env.npm_lifecycle_event !== undefined) {
    unwatch = watchParent({
      intervalMs: options.parentCheckMs ?? 1000,
      onGone: (parent) => {
        app.log.warn({ parent }, 'the process that launched this one is gone');
        stop('parent_exit');
      },
    });
  }
  return app;
}

/** Parses env in server.ts with the one-line failure the contract asks for. */
export function envOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    console.error(err instanceof EnvError ? err.message : `invalid environment: ${(err as Error).message}`);
    process.exit(1);
  }
}
