import { statfs } from 'node:fs/promises';
import type { DependencyHealth, HealthCheck } from '@cortex/service-kit';

export interface DiskHealthOptions {
  /** The directory whose file system holds the data (PGlite's data dir). */
  dir: string;
  /** `warning` when fewer bytes than this are free. */
  minFreeBytes: number;
  /** `warning` when less than this share of the file system is free. */
  minFreeRatio: number;
  /** Injectable for tests. */
  statfs?: (
    dir: string,
  ) => Promise<{ bavail: number | bigint; blocks: number | bigint; bsize: number | bigint }>;
}

/**
 * Free space on the file system under the embedded database, with or without a configured
 * quota: a full disk stops every write, so /health says `warning` (200: it still works) before
 * it happens. For a remote PostgreSQL there is no local disk to check and no check is added.
 */
export function diskHealth(options: DiskHealthOptions): HealthCheck {
  const stat = options.statfs ?? ((dir: string) => statfs(dir));
  return async (): Promise<DependencyHealth> => {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(options.dir);
    } catch (err) {
      return {
        status: 'warning',
        dir: options.dir,
        error: (err as { code?: string }).code ?? 'statfs_failed',
      };
    }
    const bsize = Number(s.bsize);
    const free = Number(s.bavail) * bsize;
    const total = Number(s.blocks) * bsize;
    const ratio = total > 0 ? free / total : 0;
    const figures = { free_bytes: free, total_bytes: total, free_ratio: Math.round(ratio * 1000) / 1000 };
    if (free < options.minFreeBytes || ratio < options.minFreeRatio) {
      return { status: 'warning', ...figures, warning: 'low_free_disk' };
    }
    return { status: 'healthy', ...figures };
  };
}
