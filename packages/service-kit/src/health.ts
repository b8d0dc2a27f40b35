import { type Clock, systemClock } from '@cortex/resilience';

type HealthStatus = 'healthy' | 'warning' | 'unhealthy';

export interface DependencyHealth {
  status: HealthStatus;
  [detail: string]: unknown;
}

export type HealthCheck = (signal: AbortSignal) => Promise<DependencyHealth> | DependencyHealth;

interface Registered {
  check: HealthCheck;
  /** Whether this dependency being unhealthy makes the whole service unhealthy (503). */
  critical: boolean;
}

const CHECK_TIMEOUT_MS = 2000;

/**
 * Collects named checks. A service that still does its job with a dependency away reports
 * `warning` (200), so an orchestrator does not take it out of rotation for someone else's outage.
 */
export type HealthReport = { status: HealthStatus; dependencies: Record<string, DependencyHealth> };

export class HealthRegistry {
  private readonly checks = new Map<string, Registered>();
  private last: { at: number; report: Promise<HealthReport> } | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  add(name: string, check: HealthCheck, options: { critical?: boolean } = {}) {
    this.checks.set(name, { check, critical: options.critical ?? false });
  }

  /**
   * `maxAgeMs` > 0: a result started less than that long ago (finished or still running) is
   * shared, so a flood of anonymous /health requests costs the dependencies one round of checks
   * per interval, not one each. Without it, the checks run afresh (and are not shared).
   */
  run(maxAgeMs = 0): Promise<HealthReport> {
    if (maxAgeMs <= 0) return this.runAll();
    const now = this.clock.now();
    if (this.last && now - this.last.at < maxAgeMs) return this.last.report;
    const report = this.runAll();
    this.last = { at: now, report };
    return report;
  }

  private async runAll(): Promise<HealthReport> {
    const entries = [...this.checks.entries()];
    const results = await Promise.all(entries.map(([, r]) => runOne(r.check)));
    const dependencies: Record<string, DependencyHealth> = {};
    let status: HealthStatus = 'healthy';
    entries.forEach(([name, r], i) => {
      const result = results[i] as DependencyHealth;
      dependencies[name] = result;
      if (result.status === 'healthy') return;
      if (result.status === 'unhealthy' && r.critical) status = 'unhealthy';
      else if (status === 'healthy') status = 'warning';
    });
    return { status, dependencies };
  }
}

async function runOne(check: HealthCheck): Promise<DependencyHealth> {
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  try {
    return await Promise.race([
      Promise.resolve(check(signal)),
      new Promise<DependencyHealth>((resolve) =>
        signal.addEventListener(
          'abort',
          () => resolve({ status: 'unhealthy', error: 'health check timed out' }),
          {
            once: true,
          },
        ),
      ),
    ]);
  } catch (err) {
    return { status: 'unhealthy', error: (err as { code?: string })?.code ?? 'check_failed' };
  }
}
