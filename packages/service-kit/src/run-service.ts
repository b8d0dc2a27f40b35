import type { FastifyInstance } from 'fastify';
import { EnvError } from './env';

export interface RunOptions {
  port: number;
  host: string;
  /** Upper bound for a graceful stop before the process exits anyway. */
  shutdownTimeoutMs?: number;
}

/**
 * Listens and turns SIGTERM/SIGINT into a graceful stop: stop accepting, let in-flight requests
 * and onClose hooks (flushes, pool shutdowns) finish, exit 0.
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
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
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
