import { type Clock, systemClock } from '@cortex/resilience';
import type { DependencyHealth, HealthCheck } from '@cortex/service-kit';
import type { DatabaseGate } from '../db/availability';
import { mapDbError } from '../db/db-errors';

export interface DatabaseHealthOptions {
  /** The database size that counts as full; unset means no quota check. */
  quotaBytes?: number | undefined;
  /** How long a measured size is reused (ms): pg_database_size walks the data directory. */
  sizeMaxAgeMs?: number;
  clock?: Clock;
}

const STORAGE_SIZE_MAX_AGE_MS = 30_000;

/** Share of the quota from which the database reports `warning` (still 200: it works, for now). */
const STORAGE_WARNING_RATIO = 0.9;

/**
 * The database dependency for /health. Unreachable or not yet migrated is `unhealthy` (memory
 * cannot do its job: 503); near the storage quota is `warning` (200). Liveness is a `SELECT 1`
 * per check; the size (pg_database_size, which stats every file of the database) is measured at
 * most once per `sizeMaxAgeMs`, concurrent checks sharing one measurement. Works the same on
 * PostgreSQL and PGlite.
 */
export function databaseHealth(gate: DatabaseGate, options: DatabaseHealthOptions = {}): HealthCheck {
  const clock = options.clock ?? systemClock;
  const maxAge = options.sizeMaxAgeMs ?? STORAGE_SIZE_MAX_AGE_MS;
  let size: { at: number; bytes: Promise<number> } | undefined;
  const measure = () => {
    const at = clock.now();
    if (size && at - size.at < maxAge) return size.bytes;
    const bytes = gate
      .query<{ used: number | string }>('SELECT pg_database_size(current_database()) AS used')
      .then((r) => Number(r.rows[0]?.used ?? 0));
    size = { at, bytes };
    // A failed measurement is not remembered: the next check tries again.
    bytes.catch(() => {
      if (size?.bytes === bytes) size = undefined;
    });
    return bytes;
  };
  return async (): Promise<DependencyHealth> => {
    const base = { kind: gate.kind, fast_failures: gate.stats.fastFailures };
    if (gate.state !== 'up') {
      return {
        status: 'unhealthy',
        ...base,
        state: gate.state,
        error: gate.reason ?? 'unreachable',
        retry_after_ms: gate.retryAfterMs,
      };
    }
    let usedBytes: number;
    try {
      await gate.query('SELECT 1');
      usedBytes = await measure();
    } catch (err) {
      const down = gate.state !== 'up';
      return {
        status: 'unhealthy',
        ...base,
        state: gate.state,
        error: down ? 'unreachable' : mapDbError(err).code,
      };
    }
    const quota = options.quotaBytes;
    if (quota === undefined) return { status: 'healthy', ...base, storage: { used_bytes: usedBytes } };
    const ratio = usedBytes / quota;
    const storage = {
      used_bytes: usedBytes,
      quota_bytes: quota,
      used_ratio: Math.round(ratio * 1000) / 1000,
    };
    if (ratio >= STORAGE_WARNING_RATIO) {
      return { status: 'warning', ...base, storage, warning: 'storage_near_quota' };
    }
    return { status: 'healthy', ...base, storage };
  };
}
