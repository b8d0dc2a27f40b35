import { CortexError } from '@cortex/errors';
import type { Database, Queryable, QueryResult } from './database';
import { isConnectionFailure } from './db-errors';

/** The timers the gate needs, injectable so tests drive probes without waiting. */
export interface GateClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: GateClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending probe must not keep a stopping process alive.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** `starting`: not yet prepared (migrated); `down`: lost after it was up. */
export type GateState = 'starting' | 'up' | 'down' | 'closed';
export type DownReason = 'unreachable' | 'migration_failed';

export interface GateOptions {
  clock?: GateClock;
  /** Must succeed once before any call is let through (migrations); retried until it does. */
  prepare?: (db: Database) => Promise<void>;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Told about every change of state or reason (for logs). */
  onChange?: (state: GateState, reason: DownReason | undefined, err?: unknown) => void;
}

export interface GateStats {
  /** Calls refused at once because the database was known to be away. */
  fastFailures: number;
  probes: number;
}

/**
 * Wraps a Database so that an outage costs callers nothing: after a connection-class failure
 * every call fails at once with 503 `service_unavailable` (instead of each one waiting for a
 * connect timeout), while one background probe checks, with backoff, until the database answers;
 * then calls flow again by themselves. The same loop runs the migrations at start, so a database
 * that is unreachable when memory starts is reported, not crashed on.
 */
export class DatabaseGate implements Database {
  readonly kind: Database['kind'];
  readonly stats: GateStats = { fastFailures: 0, probes: 0 };
  private current: GateState = 'starting';
  private why: DownReason | undefined = 'unreachable';
  private prepared: boolean;
  private attempt = 0;
  private timer: unknown;
  private nextProbeAt = 0;
  private probing: Promise<void> | undefined;
  private readonly clock: GateClock;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly inner: Database,
    private readonly options: GateOptions = {},
  ) {
    this.kind = inner.kind;
    this.clock = options.clock ?? systemClock;
    this.prepared = options.prepare === undefined;
    this.minBackoffMs = options.minBackoffMs ?? 100;
    this.maxBackoffMs = Math.max(this.minBackoffMs, options.maxBackoffMs ?? 2000);
  }

  get state(): GateState {
    return this.current;
  }

  /** Why calls are refused; undefined while up. */
  get reason(): DownReason | undefined {
    return this.current === 'up' ? undefined : this.why;
  }

  /** Milliseconds until the next probe, the honest `Retry-After` while down. */
  get retryAfterMs(): number {
    return Math.max(this.minBackoffMs, this.nextProbeAt - this.clock.now());
  }

  /**
   * Makes the first attempt and waits for it, so that a reachable database is ready when the app
   * is built; if it fails the gate keeps trying in the background. Resolves true when up.
   */
  async start(): Promise<boolean> {
    if (this.current === 'starting' && !this.timer) await this.probe();
    return this.current === 'up';
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return this.guard(() => this.inner.query<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.guard(() => this.inner.exec(sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.guard(() => this.inner.transaction(fn));
  }

  /** Not gated: a listener keeps its own dedicated connection and reconnects by itself. */
  listen(channel: string, onNotify: (payload: string) => void, onReconnect?: () => void) {
    return this.inner.listen(channel, onNotify, onReconnect);
  }

  /** Stops probing without closing the wrapped database (when someone else owns it). */
  stop() {
    this.current = 'closed';
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  async close() {
    this.stop();
    await this.probing;
    await this.inner.close();
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    if (this.current !== 'up') {
      this.stats.fastFailures++;
      throw this.unavailable();
    }
    try {
      return await op();
    } catch (err) {
      if (isConnectionFailure(err)) this.markDown(err);
      throw err;
    }
  }

  private unavailable() {
    const message =
      this.current === 'closed'
        ? 'The database is closed'
        : this.why === 'migration_failed'
          ? 'The database schema is not ready'
          : 'The database is unavailable';
    return new CortexError('service_unavailable', message, {
      retryAfterMs: this.retryAfterMs,
      details: { reason: this.why },
    });
  }

  private markDown(err: unknown) {
    if (this.current !== 'up') return;
    this.current = 'down';
    this.why = 'unreachable';
    this.attempt = 0;
    this.options.onChange?.('down', 'unreachable', err);
    this.schedule();
  }

  private schedule() {
    if (this.current === 'closed' || this.timer !== undefined) return;
    const delay = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** this.attempt);
    this.attempt++;
    this.nextProbeAt = this.clock.now() + delay;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.probe();
    }, delay);
  }

  /** One probe at a time: the first preparation, then a plain `SELECT 1`. */
  private probe(): Promise<void> {
    this.probing ??= this.runProbe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  // A method, not an inline comparison: the state may change while a probe awaits.
  private closed() {
    return this.current === 'closed';
  }

  private async runProbe() {
    if (this.current === 'closed') return;
    this.stats.probes++;
    try {
      if (!this.prepared) {
        await this.options.prepare?.(this.inner);
        this.prepared = true;
      } else {
        await this.inner.query('SELECT 1');
      }
    } catch (err) {
      if (this.closed()) return;
      const reason: DownReason =
        this.prepared || isConnectionFailure(err) ? 'unreachable' : 'migration_failed';
      if (reason !== this.why || this.attempt === 0) this.options.onChange?.(this.current, reason, err);
      this.why = reason;
      this.schedule();
      return;
    }
    if (this.closed()) return;
    this.current = 'up';
    this.why = undefined;
    this.attempt = 0;
    this.options.onChange?.('up', undefined);
  }
}
