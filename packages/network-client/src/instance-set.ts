import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type Clock, systemClock } from '@cortex/resilience';
import type { Instance } from './discovery';

export interface InstanceSetOptions {
  /** Consecutive failures that eject an instance (outlier ejection). */
  ejectAfterFailures?: number;
  /** First ejection length; doubles for each repeated ejection, up to `maxEjectMs`. */
  ejectMs?: number;
  maxEjectMs?: number;
  clock?: Clock;
}

interface State {
  instance: Instance;
  /** From background health checks; unknown counts as healthy. */
  healthy: boolean;
  failures: number;
  ejectedUntil: number;
  ejections: number;
}

/**
 * The instances of one service and what we know about them. Calls go to healthy, non-ejected
 * instances in turn. An instance that fails `ejectAfterFailures` times in a row is ejected for a
 * while (longer each time it happens again), which is the per-instance breaker: one bad replica
 * stops taking traffic while its siblings carry on. If every instance is out, all are tried
 * again rather than none (failing open: the service-level breaker decides about the whole).
 */
export class InstanceSet {
  private states: State[];
  private next = 0;
  private readonly clock: Clock;

  constructor(
    instances: readonly Instance[],
    private readonly options: InstanceSetOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.states = instances.map((instance) => fresh(instance));
  }

  get all(): Instance[] {
    return this.states.map((s) => s.instance);
  }

  pick(): Instance {
    const now = this.clock.now();
    const n = this.states.length;
    for (let i = 0; i < n; i++) {
      const s = this.states[(this.next + i) % n] as State;
      if (s.healthy && s.ejectedUntil <= now) {
        this.next = (this.next + i + 1) % n;
        return s.instance;
      }
    }
    const s = this.states[this.next++ % n] as State;
    return s.instance;
  }

  report(instance: Instance, ok: boolean) {
    const s = this.states.find((x) => x.instance.id === instance.id);
    if (!s) return;
    if (ok) {
      s.failures = 0;
      // A call that succeeded is evidence: an ejected instance (tried because all were out) is
      // back at once. Its ejection count stays, so a relapse is ejected for longer.
      if (s.ejectedUntil > this.clock.now()) s.ejectedUntil = 0;
      else s.ejections = 0;
      return;
    }
    s.failures++;
    if (s.failures >= (this.options.ejectAfterFailures ?? 5)) {
      const base = this.options.ejectMs ?? 5000;
      const length = Math.min(this.options.maxEjectMs ?? 60_000, base * 2 ** s.ejections);
      s.ejectedUntil = this.clock.now() + length;
      s.ejections++;
      s.failures = 0;
    }
  }

  /**
   * Records a health check's verdict. A healthy one after a failed one is news: the instance is
   * back, so an ejection ends at once (an instance that passes its checks while failing calls
   * stays ejected: that is what ejection is for). Returns whether it was such news.
   */
  setHealthy(instance: Instance, healthy: boolean): boolean {
    const s = this.states.find((x) => x.instance.id === instance.id);
    if (!s) return false;
    const back = healthy && !s.healthy;
    s.healthy = healthy;
    if (back) {
      s.ejectedUntil = 0;
      s.failures = 0;
    }
    return back;
  }

  /** True when some instance is failing its health checks or ejected: worth checking often. */
  get degraded(): boolean {
    const now = this.clock.now();
    return this.states.some((s) => !s.healthy || s.ejectedUntil > now);
  }

  /** States for /health and tests. */
  describe() {
    const now = this.clock.now();
    return this.states.map((s) => ({
      id: s.instance.id,
      healthy: s.healthy,
      ejected: s.ejectedUntil > now,
    }));
  }

  /** Replaces the instance list (after DNS changes), keeping what we knew of the survivors. */
  replace(instances: readonly Instance[]) {
    const old = new Map(this.states.map((s) => [s.instance.id, s]));
    this.states = instances.map((i) => old.get(i.id) ?? fresh(i));
    if (this.states.length === 0) throw new Error('an instance set cannot be empty');
  }
}

function fresh(instance: Instance): State {
  return { instance, healthy: true, failures: 0, ejectedUntil: 0, ejections: 0 };
}

/**
 * Expands each URL whose host is a name into one instance per address it resolves to (a headless
 * service or a compose scale-out), keeping the port and scheme. Names that do not resolve are
 * kept as they are, so the connection error surfaces on call rather than at start.
 */
export async function expandDns(
  instances: readonly Instance[],
  resolve: (host: string) => Promise<{ address: string; family: number }[]> = (host) =>
    lookup(host, { all: true }),
  onError?: (host: string, err: unknown) => void,
): Promise<Instance[]> {
  const out: Instance[] = [];
  for (const instance of instances) {
    const host = instance.url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) || host === 'localhost') {
      out.push(instance);
      continue;
    }
    try {
      const addresses = await resolve(host);
      for (const a of addresses) {
        const url = new URL(instance.url);
        url.hostname = a.family === 6 ? `[${a.address}]` : a.address;
        out.push({ url, id: `${host}/${url.host}` });
      }
    } catch (err) {
      onError?.(host, err);
      out.push(instance);
    }
  }
  return out;
}
