import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { environmentOf, loadCompose, REPO_ROOT } from './compose-file';
import { allPanels, type Dashboard, dashboardProblems, exprProblems } from './grafana-dashboard';
import { type ExportedMetric, liveMetrics } from './live-metrics';
import { promqlNames } from './promql';

const dir = `${REPO_ROOT}infra/grafana/`;
const dashboard = JSON.parse(readFileSync(`${dir}dashboards/cortex-core.json`, 'utf8')) as Dashboard;
const datasources = (
  parse(readFileSync(`${dir}provisioning/datasources/datasources.yml`, 'utf8')) as {
    datasources: { uid: string; type: string; url: string; isDefault?: boolean }[];
  }
).datasources;
const providers = (
  parse(readFileSync(`${dir}provisioning/dashboards/dashboards.yml`, 'utf8')) as {
    providers: { type: string; options: { path: string } }[];
  }
).providers;
const compose = loadCompose({
  JWT_SECRET: 'x',
  GATEWAY_SERVICE_SECRET: 'x',
  COGNITION_SERVICE_SECRET: 'x',
  POSTGRES_PASSWORD: 'x',
  AUTH_USERS: '',
});
const exprs = allPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
const used = new Set(exprs.flatMap((e) => promqlNames(e).metrics));

let exported: Map<string, ExportedMetric>;
beforeAll(async () => {
  exported = await liveMetrics();
}, 60_000);

describe('infra/grafana/dashboards/cortex-core.json', () => {
  it('queries only metrics and labels the three services really export (read from their /metrics)', () => {
    expect(exported.size).toBeGreaterThan(20);
    expect(
      dashboardProblems(
        dashboard,
        exported,
        datasources.map((d) => d.uid),
      ),
    ).toEqual([]);
  });

  it('would catch a metric, a label or a grouping the services do not have (the check can fail)', () => {
    expect(exprProblems('rate(http_request_total[5m])', exported)).toEqual([
      'http_request_total: not exported by any service',
    ]);
    expect(exprProblems('sum(rate(http_requests_total{code="500"}[5m]))', exported)).toEqual([
      'http_requests_total{code}: no such label',
    ]);
    expect(exprProblems('sum by (upstream) (rate(http_requests_total[5m]))', exported)).toEqual([
      'http_requests_total: grouped by upstream, which it does not carry',
    ]);
    const broken = structuredClone(dashboard);
    const first = allPanels(broken)[0]?.targets?.[0];
    if (first) first.expr = 'db_pool_in_use';
    expect(dashboardProblems(broken, exported, ['prometheus'])).toContainEqual(
      expect.stringMatching(/db_pool_in_use: not exported/),
    );
  });

  it('has the panels the issue asks for', () => {
    for (const metric of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'resilience_calls_total',
      'resilience_retries_total',
      'resilience_rejections_total',
      'resilience_breaker_state',
      'pending_journal_items',
      'sse_connections',
      'nodejs_eventloop_lag_p99_seconds',
      'db_pool_connections',
    ])
      expect([...used], metric).toContain(metric);
    // p50/p95/p99 of request latency, each by route.
    for (const q of ['0.5', '0.95', '0.99']) {
      expect(
        exprs.some(
          (e) =>
            e.includes(`histogram_quantile(${q},`) &&
            e.includes('http_request_duration_seconds_bucket') &&
            promqlNames(e).grouping.includes('route'),
        ),
        `p${q}`,
      ).toBe(true);
    }
    // The error rate is a ratio of 5xx responses to all of them.
    expect(exprs.some((e) => /status=~"5\.\."/.test(e) && e.includes('/'))).toBe(true);
  });

  it('has unique panel ids and titles, and every panel a description', () => {
    const panels = allPanels(dashboard);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length);
    for (const p of panels) expect((p as { description?: string }).description, p.title).toBeTruthy();
  });

  it('exercises the metrics this change added, in the services that own them', () => {
    expect([...(exported.get('pending_journal_items')?.services ?? [])]).toEqual(['gateway']);
    expect([...(exported.get('sse_connections')?.services ?? [])]).toEqual(['gateway']);
    expect([...(exported.get('db_pool_connections')?.services ?? [])]).toEqual(['memory']);
    expect(exported.get('db_pool_connections')?.labels).toContain('state');
    // Default process metrics are collected by every service (event-loop delay).
    expect([...(exported.get('nodejs_eventloop_lag_p99_seconds')?.services ?? [])].sort()).toEqual([
      'cognition',
      'gateway',
      'memory',
    ]);
  });
});

describe('infra/grafana/provisioning', () => {
  it('provides Prometheus (default) and Jaeger at their compose names and ports', () => {
    const byType = Object.fromEntries(datasources.map((d) => [d.type, d]));
    expect(byType.prometheus).toMatchObject({
      uid: 'prometheus',
      url: 'http://prometheus:9090',
      isDefault: true,
    });
    expect(byType.jaeger).toMatchObject({ uid: 'jaeger', url: 'http://jaeger:16686' });
    for (const host of ['prometheus', 'jaeger']) {
      expect(compose.services[host]?.networks, host).toContain('internal');
    }
    expect(compose.services.grafana?.networks).toContain('internal');
  });

  it('loads the dashboards from where compose mounts them', () => {
    const grafana = compose.services.grafana;
    const mounts = (grafana?.volumes ?? []).map((v) => v.split(':'));
    const [provider] = providers;
    expect(provider?.type).toBe('file');
    const dashboards = mounts.find(([, target]) => target === provider?.options.path);
    expect(dashboards?.[0]).toBe('./infra/grafana/dashboards');
    expect(mounts.find(([, target]) => target === '/etc/grafana/provisioning')?.[0]).toBe(
      './infra/grafana/provisioning',
    );
    expect(environmentOf(grafana ?? {}).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      `${provider?.options.path}/cortex-core.json`,
    );
  });
});
