/**
 * Test support: the metrics the three services really export. Builds each app from its own
 * builder (never listening; dependencies and PostgreSQL on a closed port), reads
 * `GET /metrics` and returns every series name with its type and labels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCognitionApp } from '../services/cognition/src/app';
import { loadCognitionEnv } from '../services/cognition/src/env';
import { buildGatewayApp } from '../services/gateway/src/app';
import { loadGatewayEnv } from '../services/gateway/src/env';
import { buildMemoryApp } from '../services/memory/src/app';
import { loadMemoryEnv } from '../services/memory/src/env';

export interface ExportedMetric {
  type: string;
  /** Label names a query may use on it: its own, `service`, and `le`/`quantile` on its series. */
  labels: Set<string>;
  /** The services exporting it. */
  services: Set<string>;
}

/** No service listens here: upstream calls fail fast, which is all a registry needs. */
const NOWHERE = 'http://127.0.0.1:9';

export async function liveMetrics(): Promise<Map<string, ExportedMetric>> {
  const dir = mkdtempSync(join(tmpdir(), 'live-metrics-'));
  const apps: Awaited<ReturnType<typeof buildGatewayApp>>[] = [];
  try {
    apps.push(
      await buildGatewayApp({
        env: loadGatewayEnv({
          LOG_LEVEL: 'silent',
          MEMORY_SERVICE_URL: NOWHERE,
          COGNITION_SERVICE_URL: NOWHERE,
          PENDING_STORE_DIR: dir,
        }),
        defaultMetrics: true,
      }),
      await buildMemoryApp({
        // PostgreSQL as deployed (a pool, and its gauges), on a port nothing answers: memory starts
        // anyway and retries in the background.
        env: loadMemoryEnv({ LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://cortex@127.0.0.1:9/cortex' }),
        defaultMetrics: true,
      }),
      await buildCognitionApp({
        env: loadCognitionEnv({ LOG_LEVEL: 'silent', MEMORY_SERVICE_URL: NOWHERE }),
        defaultMetrics: true,
      }),
    );
    const exported = new Map<string, ExportedMetric>();
    for (const app of apps) {
      const res = await app.inject({ url: '/metrics' });
      if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`);
      const service = /service="(\w+)"/.exec(res.body)?.[1] ?? 'unknown';
      for (const [, name = '', type = ''] of res.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        const declared =
          (app.metrics.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined)
            ?.labelNames ?? [];
        const series: [string, string[]][] =
          type === 'histogram'
            ? [
                [`${name}_bucket`, ['le']],
                [`${name}_sum`, []],
                [`${name}_count`, []],
              ]
            : type === 'summary'
              ? [
                  [name, ['quantile']],
                  [`${name}_sum`, []],
                  [`${name}_count`, []],
                ]
              : [[name, []]];
        for (const [seriesName, extra] of series) {
          const entry = exported.get(seriesName) ?? { type, labels: new Set(), services: new Set() };
          for (const label of ['service', ...declared, ...extra]) entry.labels.add(label);
          entry.services.add(service);
          exported.set(seriesName, entry);
        }
      }
    }
    return exported;
  } finally {
    for (const app of apps) await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
