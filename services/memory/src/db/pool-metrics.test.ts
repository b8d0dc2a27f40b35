import { createServiceApp } from '@cortex/service-kit';
import { afterEach, describe, expect, it } from 'vitest';
import type { PoolStats } from './database';
import { poolMetrics } from './pool-metrics';

const apps: ReturnType<typeof createServiceApp>[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function scrape(poolStats?: () => PoolStats) {
  const app = createServiceApp({ service: 'memory', logLevel: 'silent' });
  apps.push(app);
  poolMetrics(app.metrics, { poolStats });
  return (await app.inject({ url: '/metrics' })).body;
}

describe('poolMetrics', () => {
  it('reads the pool at scrape time: in use, idle, waiting and the ceiling', async () => {
    let stats: PoolStats = { max: 10, total: 4, idle: 1, waiting: 0 };
    const app = createServiceApp({ service: 'memory', logLevel: 'silent' });
    apps.push(app);
    poolMetrics(app.metrics, { poolStats: () => stats });
    const first = (await app.inject({ url: '/metrics' })).body;
    expect(first).toContain('db_pool_connections{state="in_use",service="memory"} 3');
    expect(first).toContain('db_pool_connections{state="idle",service="memory"} 1');
    expect(first).toContain('db_pool_connections{state="waiting",service="memory"} 0');
    expect(first).toContain('db_pool_max{service="memory"} 10');
    stats = { max: 10, total: 10, idle: 0, waiting: 7 };
    const second = (await app.inject({ url: '/metrics' })).body;
    expect(second).toContain('db_pool_connections{state="in_use",service="memory"} 10');
    expect(second).toContain('db_pool_connections{state="waiting",service="memory"} 7');
  });

  it('registers nothing without a pool (PGlite)', async () => {
    const body = await scrape();
    expect(body).toContain('# TYPE http_requests_total counter');
    expect(body).not.toContain('db_pool');
  });
});
