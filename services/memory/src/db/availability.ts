import { CortexError } from '@cortex/errors';
import { BackoffLoop, type Clock } from '@cortex/resilience';
import type { Database, Queryable, QueryResult } from './database';
import { isConnectionFailure } from './db-errors';

/** `starting`: not yet prepared (migrated); `down`: lost after it was up. */
export type GateState = 'starting' | 'up' | 'down' | 'closed';
export type DownReason = 'unreachable' | 'migration_failed';

export interface GateOptions {
  clock?: Clock;
  random?: () => number;
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
  private readonly probes: BackoffLoop;
  private readonly stopped = new AbortController();
  private recovering: Promise<void> | undefined;
  private readonly minBackoffMs: number;

  constructor(
    private readonly inner: Database,
    private readonly options: GateOptions = {},
  ) {
    this.kind = inner.kind;
    this.prepared = options.prepare === undefined;
    this.minBackoffMs = options.minBackoffMs ?? 100;
    // Jittered, so that several memory instances that lost one database do not probe in step.
    this.probes = new BackoffLoop({
      name: 'database.probe',
      backoff: {
        baseDelayMs: this.minBackoffMs,
        maxDelayMs: Math.max(this.minBackoffMs, options.maxBackoffMs ?? 2000),
        jitter: 'full',
      },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
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
    return Math.max(this.minBackoffMs, this.probes.remainingMs);
  }

  /**
   * Makes the first attempt and waits for it, so that a reachable database is ready when the app
   * is built; if it fails the gate keeps trying in the background. Resolves true when up.
   */
  async start(): Promise<boolean> {
    if (this.current === 'starting' && this.recovering === undefined) {
      await this.probe().catch((err: unknown) => this.recover(err));
    }
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
    this.stopped.abort();
  }

  async close() {
    this.stop();
    await this.recovering;
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
    this.options.onChange?.('down', 'unreachable', err);
    this.recover(err);
  }

  /** Probes in the background, backing off, until the database answers (or the gate closes). */
  private recover(err: unknown) {
    if (this.current === 'closed' || this.recovering !== undefined) return;
    this.probes.failed(err);
    this.recovering = this.probes
      .run(() => this.probe(), { signal: this.stopped.signal })
      .finally(() => {
        this.recovering = undefined;
        // A query failing between the probe's success and this line found `recovering` still set
        // and marked the gate down without probing: probe again rather than stay down.
        if (this.current === 'down') this.recover(err);
      });
  }

  // A method, not an inline comparison: the state may change while a probe awaits.
  private closed() {
    return this.current === 'closed';
  }

  /** One probe: the first preparation, then a plain `SELECT 1`. Rejects while the database is away. */
  private async probe() {
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
      // The first failure of a start is news (an outage was announced by markDown); after that
      // only a change of reason is.
      if (reason !== this.why || this.probes.failures === 0)
        this.options.onChange?.(this.current, reason, err);
      this.why = reason;
      throw err;
    }
    if (this.closed()) return;
    this.current = 'up';
    this.why = undefined;
    this.options.onChange?.('up', undefined);
  }
}
