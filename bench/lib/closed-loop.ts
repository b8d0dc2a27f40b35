import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { summarise } from './stats';

export interface ClosedLoopResult {
  perSecond: number;
  p50: number;
  p99: number;
}

/**
 * `connections` callers on one keep-alive pool, each sending its next request as soon as the last
 * one is answered, for `seconds`. `once` sends one request and throws on a wrong answer (which
 * ends the run: a benchmark of errors measures nothing). Latencies in ms.
 */
export async function closedLoop(
  origin: string,
  options: { connections: number; seconds: number },
  once: (pool: Pool) => Promise<void>,
): Promise<ClosedLoopResult> {
  const pool = new Pool(origin, { connections: options.connections });
  const latencies: number[] = [];
  const end = performance.now() + options.seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: options.connections }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await once(pool);
          latencies.push(performance.now() - t);
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const { p50, p99 } = summarise(latencies);
  return { perSecond: latencies.length / options.seconds, p50, p99 };
}
