import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { environmentOf, loadCompose, REPO_ROOT } from './compose-file';
import { liveMetrics } from './live-metrics';
import { promqlNames } from './promql';

// Placeholders for the variables compose requires (only the file's shape is checked here).
const composeVars = {
  JWT_SECRET: 'x',
  GATEWAY_SERVICE_SECRET: 'x',
  COGNITION_SERVICE_SECRET: 'x',
  POSTGRES_PASSWORD: 'x',
  AUTH_USERS: '',
};

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs: { targets: string[] }[];
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dir = `${REPO_ROOT}infra/prometheus/`;
const config = parse(readFileSync(`${dir}prometheus.yml`, 'utf8')) as {
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
};
const rules = (
  parse(readFileSync(`${dir}alerts.yml`, 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);
const rule = (name: string) => {
  const r = rules.find((x) => x.alert === name);
  if (!r) throw new Error(`no alert ${name}`);
  return r;
};

/** The metrics table in infra/README.md: name → type and labels. */
function documentedMetrics() {
  const readme = readFileSync(`${REPO_ROOT}infra/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## Alerts'));
  const table = new Map<string, { type: string; labels: string[] }>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`([a-z_:]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name) continue;
    table.set(name, {
      type: cells[2] ?? '',
      labels: [...(cells[3] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1] ?? ''),
    });
  }
  // A histogram is queried through its series.
  for (const [name, m] of [...table]) {
    if (m.type !== 'histogram') continue;
    table
      .set(`${name}_count`, m)
      .set(`${name}_sum`, m)
      .set(`${name}_bucket`, { ...m, labels: [...m.labels, 'le'] });
  }
  return table;
}
const metrics = documentedMetrics();
// Added by Prometheus to every scraped series.
const TARGET_LABELS = ['job', 'instance'];

describe('promqlNames (test support)', () => {
  it('finds metrics, matcher labels and grouping labels, not functions, keywords or numbers', () => {
    const names = promqlNames(
      'sum by (service, upstream) (rate(a_total{status=~"5..", x!="y"}[5m] offset 1m)) / on (service) b > 0.05 and c == 1e3',
    );
    expect(names.metrics).toEqual(['a_total', 'b', 'c']);
    expect(names.matchers).toEqual({ a_total: ['status', 'x'] });
    expect(names.grouping).toEqual(['service', 'upstream']);
  });
});

describe('infra/prometheus/prometheus.yml', () => {
  it('loads the alert rules', () => {
    expect(config.rule_files).toContain('alerts.yml');
    for (const file of config.rule_files) expect(existsSync(`${dir}${file}`), file).toBe(true);
  });

  it('scrapes /metrics of the three services at their compose names and ports', () => {
    const targets = Object.fromEntries(
      config.scrape_configs.map((c) => [
        c.job_name,
        { path: c.metrics_path ?? '/metrics', targets: c.static_configs.flatMap((s) => s.targets) },
      ]),
    );
    expect(targets).toEqual({
      gateway: { path: '/metrics', targets: ['gateway:8000'] },
      memory: { path: '/metrics', targets: ['memory:9000'] },
      cognition: { path: '/metrics', targets: ['cognition:9100'] },
    });
    const compose = loadCompose(composeVars);
    const prometheusNets = compose.services.prometheus?.networks ?? [];
    for (const [job, scraped] of Object.entries(targets)) {
      const [host, port] = (scraped.targets[0] ?? '').split(':');
      const service = compose.services[host ?? ''];
      expect(service, job).toBeDefined();
      // Reached over a network both join (the services publish no ports), at the port they listen on.
      expect(environmentOf(service ?? {}).PORT).toBe(port);
      expect(
        service?.networks?.some((n) => prometheusNets.includes(n)),
        job,
      ).toBe(true);
    }
  });

  it('is what the monitoring profile of compose runs', () => {
    const prometheus = loadCompose(composeVars).services.prometheus;
    expect(prometheus?.profiles).toEqual(['monitoring']);
    expect(prometheus?.volumes).toContain('./infra/prometheus:/etc/prometheus:ro');
  });
});

describe('infra/prometheus/alerts.yml', () => {
  it('has the three alerts with their thresholds and durations', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'CircuitBreakerOpen',
      'HighErrorRate',
      'HighRetryRate',
    ]);
    const compact = (name: string) => rule(name).expr.replace(/\s+/g, ' ').trim();
    expect(compact('HighErrorRate')).toMatch(
      /http_requests_total\{status=~"5\.\."\}\[5m\].*\/.*http_requests_total\[5m\].*> 0\.05$/,
    );
    expect(rule('HighErrorRate').for).toBe('5m');
    expect(compact('CircuitBreakerOpen')).toBe('resilience_breaker_state == 2');
    expect(rule('CircuitBreakerOpen').for).toBe('1m');
    expect(compact('HighRetryRate')).toMatch(
      /resilience_retries_total\[5m\].*\/.*resilience_calls_total\[5m\].*> 0\.2$/,
    );
  });

  it.each(rules)('$alert uses only documented metrics and their labels', ({ expr, annotations }) => {
    const names = promqlNames(expr);
    expect(names.metrics.length).toBeGreaterThan(0);
    for (const name of names.metrics)
      expect([...metrics.keys()], `${name} in infra/README.md`).toContain(name);
    for (const [name, labels] of Object.entries(names.matchers)) {
      for (const label of labels) expect(metrics.get(name)?.labels, `${name}{${label}}`).toContain(label);
    }
    // PromQL divides only series with identical labels: a ratio must say how its sides match.
    if (expr.includes('/')) expect(names.grouping, 'by/on labels of a ratio').not.toEqual([]);
    // Grouping labels must be on every metric of the rule, or the series would not match up.
    for (const label of names.grouping) {
      for (const name of names.metrics) {
        expect([...(metrics.get(name)?.labels ?? []), ...TARGET_LABELS], `${label} on ${name}`).toContain(
          label,
        );
      }
    }
    // An aggregated rule keeps only its grouping labels for the annotations to use.
    const used = [
      ...Object.values(annotations ?? {})
        .join(' ')
        .matchAll(/\$labels\.(\w+)/g),
    ].map((m) => m[1]);
    const available =
      names.grouping.length > 0
        ? names.grouping
        : names.metrics.flatMap((n) => [...(metrics.get(n)?.labels ?? []), ...TARGET_LABELS]);
    for (const label of used) expect(available, `$labels.${label}`).toContain(label);
  });

  it('documents exactly the metrics the three services export, with their types and labels', async () => {
    // Real apps, read through their /metrics: what Prometheus would scrape, not what source says.
    const exported = await liveMetrics();
    const families = [...exported]
      // A histogram is documented once, under its family name.
      .filter(([name, m]) => m.type !== 'histogram' || name.endsWith('_bucket'))
      .map(([name, m]) => ({
        name: m.type === 'histogram' ? name.replace(/_bucket$/, '') : name,
        type: m.type,
        labels: [...m.labels].filter((l) => l !== 'le').sort(),
      }))
      // prom-client's default process and Node.js metrics are described by prom-client.
      .filter((m) => !/^(process|nodejs)_/.test(m.name));
    const documented = [...metrics]
      .filter(([name]) => !/_(count|sum|bucket)$/.test(name))
      .map(([name, m]) => ({ name, type: m.type, labels: [...m.labels].sort() }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(families.length).toBeGreaterThanOrEqual(14);
    expect(documented.sort(byName)).toEqual(families.sort(byName));
  }, 60_000);
});
