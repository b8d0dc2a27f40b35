import { sampledGauge } from '@cortex/service-kit';
import type { FastifyInstance } from 'fastify';
import type { Database } from './database';

/**
 * The PostgreSQL pool as gauges, read at scrape time: `state` is `in_use`, `idle` or `waiting`
 * (queries queued for a connection), and `db_pool_max` the ceiling (DB_POOL_MAX). The embedded
 * PGlite has no pool: nothing is registered then (a ceiling of 0 would read as a broken pool).
 */
export function poolMetrics(registry: FastifyInstance['metrics'], db: Pick<Database, 'poolStats'>) {
  const stats = db.poolStats?.bind(db);
  if (!stats) return;
  sampledGauge(registry, {
    name: 'db_pool_connections',
    help: 'Database pool connections by state (in_use, idle) and queries waiting for one (waiting)',
    labelNames: ['state'],
    sample: () => {
      const s = stats();
      return [
        { labels: { state: 'in_use' }, value: s.total - s.idle },
        { labels: { state: 'idle' }, value: s.idle },
        { labels: { state: 'waiting' }, value: s.waiting },
      ];
    },
  });
  sampledGauge(registry, {
    name: 'db_pool_max',
    help: 'Most connections the database pool opens (DB_POOL_MAX)',
    sample: () => [{ value: stats().max }],
  });
}
