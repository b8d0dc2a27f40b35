/**
 * Test support: what a Grafana dashboard's queries need that the services may not export. Each
 * PromQL expression's metric names, matcher labels and grouping labels are checked against the
 * metrics read from the services' live registries (live-metrics.ts).
 */
import type { ExportedMetric } from './live-metrics';
import { promqlNames } from './promql';

interface DashboardTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
export interface DashboardPanel {
  id?: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}
export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating?: { list: { name: string; query?: string | { query?: string } }[] };
}

/** Every panel, rows opened (a collapsed row keeps its panels inside it). */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/** Added by Prometheus to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

/** Problems of one PromQL expression against the exported metrics; empty when it is sound. */
export function exprProblems(expr: string, exported: ReadonlyMap<string, ExportedMetric>): string[] {
  const problems: string[] = [];
  const names = promqlNames(expr);
  if (names.metrics.length === 0) problems.push(`${expr}: names no metric`);
  for (const name of names.metrics) {
    if (!exported.has(name)) problems.push(`${name}: not exported by any service`);
  }
  for (const [name, labels] of Object.entries(names.matchers)) {
    for (const label of labels) {
      if (!exported.get(name)?.labels.has(label) && !TARGET_LABELS.includes(label))
        problems.push(`${name}{${label}}: no such label`);
    }
  }
  // A grouping label missing from one side would silently drop or mismatch its series.
  for (const label of names.grouping) {
    if (TARGET_LABELS.includes(label)) continue;
    for (const name of names.metrics) {
      if (exported.has(name) && !exported.get(name)?.labels.has(label))
        problems.push(`${name}: grouped by ${label}, which it does not carry`);
    }
  }
  return problems;
}

/** A template variable's `label_values(metric, label)`, as a metric and a label to check. */
function labelValuesQuery(query: string): { metric: string; label: string } | undefined {
  const m = /^label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*(\w+)\s*\)$/.exec(query.trim());
  return m?.[1] && m[2] ? { metric: m[1], label: m[2] } : undefined;
}

export function dashboardProblems(
  dashboard: Dashboard,
  exported: ReadonlyMap<string, ExportedMetric>,
  datasourceUids: readonly string[],
): string[] {
  const problems: string[] = [];
  for (const panel of allPanels(dashboard)) {
    const targets = panel.targets ?? [];
    if (targets.length === 0) problems.push(`${panel.title}: no query`);
    for (const t of [panel, ...targets]) {
      const uid = t.datasource?.uid;
      if (uid !== undefined && !datasourceUids.includes(uid))
        problems.push(`${panel.title}: data source ${uid}`);
    }
    for (const t of targets) {
      if (!t.expr) problems.push(`${panel.title}/${t.refId}: no expression`);
      else problems.push(...exprProblems(t.expr, exported).map((p) => `${panel.title}: ${p}`));
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    const raw = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const q = labelValuesQuery(raw);
    if (!q) problems.push(`$${variable.name}: not a label_values(metric, label) query`);
    else if (!exported.get(q.metric)?.labels.has(q.label))
      problems.push(`$${variable.name}: ${q.metric} has no label ${q.label}`);
  }
  return problems;
}
