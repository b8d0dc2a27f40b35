import { http } from './http';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples (comments and types skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** One scrape of a service's /metrics, summed by name and label subset. */
export class Metrics {
  constructor(readonly samples: Sample[]) {}

  static async scrape(serviceUrl: string) {
    const res = await http('GET', `${serviceUrl}/metrics`);
    return new Metrics(parseMetrics(String(res.body)));
  }

  /** The sum of every sample of `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}) {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((a, s) => a + s.value, 0);
  }

  /** The first sample of `name` whose labels include `labels`; throws when there is none. */
  first(name: string, labels: Record<string, string> = {}) {
    const hit = this.samples.find(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (!hit) throw new Error(`no ${name} with ${JSON.stringify(labels)} in /metrics`);
    return hit.value;
  }

  /** Label values seen for `label` on `name` (with `labels`), e.g. the error codes counted. */
  values(name: string, label: string, labels: Record<string, string> = {}) {
    return new Set(
      this.samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .map((s) => s.labels[label]),
    );
  }
}

/** The gateway's breaker for memory: 0 closed, 1 half-open, 2 open. */
export const memoryBreakerState = async (gatewayUrl: string) =>
  (await Metrics.scrape(gatewayUrl)).first('resilience_breaker_state', { upstream: 'memory' });
