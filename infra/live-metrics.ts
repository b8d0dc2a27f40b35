/**
 * Test support: the metrics the three services really export: reads `GET /metrics` of each
 * app (live-apps.ts) and returns every series name with its type and labels.
 */
import { openLiveApps } from './live-apps';

export interface ExportedMetric {
  type: string;
  /** Label names a query may use on it: its own, `service`, and `le`/`quantile` on its series. */
  labels: Set<string>;
  /** The services exporting it. */
  services: Set<string>;
}

export async function liveMetrics(): Promise<Map<string, ExportedMetric>> {
  const { close, ...apps } = await openLiveApps();
  try {
    const exported = new Map<string, ExportedMetric>();
    for (const app of Object.values(apps)) {
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
    await close();
  }
}
