import { CortexError, DEADLINE_HEADER, hasCode, inBandError } from '@cortex/errors';
import {
  type AttemptContext,
  BackoffLoop,
  type Clock,
  errorFromResponse,
  errorFromTransport,
  inCallScope,
  noPolicy,
  type Policy,
  parseRetryAfter,
  systemClock,
  type TimerHandle,
} from '@cortex/resilience';
import { injectTraceContext } from '@cortex/telemetry';
import { Pool } from 'undici';
import { z } from 'zod';
import { traceAttempts, traceCall, traceInstance } from './call-tracing';
import { type Instance, parseInstances } from './discovery';
import { expandDns, InstanceSet, type InstanceSetOptions } from './instance-set';
import type { TokenSource } from './service-token-signer';
import { readSse } from './sse-reader';

export interface ServiceClientOptions {
  service: string;
  urls: string | readonly string[];
  /** Bound on waiting for response headers and between body chunks, enforced by undici's shared timers. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  connectionsPerInstance?: number;
  policy?: Policy;
  /** Outlier ejection of instances that keep failing. */
  ejection?: InstanceSetOptions;
  /** Background `/health` checks of every instance (and DNS re-resolution); 0 turns them off. */
  healthCheckIntervalMs?: number;
  /**
   * Signs every tool call and resource request (`Authorization: Bearer`, audience `audience`,
   * default the service's name); `/health` checks stay unauthenticated.
   */
  tokens?: TokenSource;
  audience?: string;
  /**
   * While the service looks down (an instance failing its checks or ejected, the breaker not
   * closed), its health is checked this often instead, so that its return is seen at once.
   * Default 250 ms.
   */
  recoveryCheckIntervalMs?: number;
  /** The circuit breaker in front of this service: health checks are evidence for it. */
  breaker?: HealthEvidenceSink;
  /** Where failures recovered from in the background (DNS, health checks) are logged. */
  log?: BackgroundLog;
  clock?: Clock;
}

/** What the client needs of a circuit breaker (`CircuitBreaker` from @cortex/resilience fits). */
interface HealthEvidenceSink {
  readonly state: string;
  evidenceOfHealth(): boolean;
}

/** A pino logger fits. */
interface BackgroundLog {
  warn(obj: object, msg: string): void;
}

export interface ResourceOptions extends CallOptions {
  query?: Record<string, string | number>;
  /** Sent as `Last-Event-ID`, to resume a stream. */
  lastEventId?: string;
  /** Called once the stream is established (headers received). */
  onOpen?: () => void;
  /** Called with each message's SSE id, before its item is yielded. */
  onId?: (id: string) => void;
  /** Longest silence between chunks before the stream counts as dead (live streams ping). */
  idleTimeoutMs?: number;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  requestId?: string | undefined;
  /** Absolute deadline on the client's clock (`Clock.now()`); the remaining budget is sent to the service. */
  deadline?: number | undefined;
}

const toolResponse = z.object({ result: z.unknown() });

/**
 * A client for one logical service: pooled keep-alive connections per instance (undici), calls
 * spread over instances in turn, every call under the service's policy, every failure a CortexError.
 */
export class ServiceClient {
  readonly service: string;
  readonly configured: readonly Instance[];
  readonly instances: InstanceSet;
  private readonly pools = new Map<string, Pool>();
  readonly policy: Policy;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly stopped = new AbortController();
  private closed = false;
  private readonly recoveredListeners = new Set<() => void>();
  /**
   * Whether a healthy check has already been given to the open breaker as evidence in this
   * outage. One such check ends the open period; after that a check counts again only as news (a
   * healthy answer after a failed one), so that a service whose /health passes while its calls
   * fail still gets the breaker's backed-off waits.
   */
  private evidenceSpent = false;
  private rechecking: Promise<unknown> | undefined;

  constructor(private readonly options: ServiceClientOptions) {
    this.service = options.service;
    this.configured = parseInstances(options.service, options.urls);
    this.clock = options.clock ?? systemClock;
    this.instances = new InstanceSet(this.configured, { clock: this.clock, ...options.ejection });
    this.policy = options.policy ?? noPolicy;
    this.timeoutMs = options.timeoutMs ?? 5000;
    const interval = options.healthCheckIntervalMs ?? 0;
    if (interval > 0)
      this.checkInBackground(interval, Math.min(interval, options.recoveryCheckIntervalMs ?? 250));
  }

  /**
   * Every `fast` ms: a full refresh (DNS, every instance's health) once `interval` has passed
   * since the last, else, while the service looks down, a health check, so that its return is
   * seen at once. A round that fails outright backs off (up to `interval`) instead.
   */
  private checkInBackground(interval: number, fast: number) {
    let lastFull = Number.NEGATIVE_INFINITY;
    let lastCheck = Number.NEGATIVE_INFINITY;
    const checks = new BackoffLoop({
      name: `${this.service}.health`,
      backoff: { baseDelayMs: fast, maxDelayMs: interval, jitter: 'full' },
      everyMs: fast,
      clock: this.clock,
    });
    const tick = async () => {
      const now = this.clock.now();
      if (now - lastFull >= interval) {
        lastFull = lastCheck = now;
        await this.refresh();
      } else if (this.degraded && now - lastCheck >= fast) {
        lastCheck = now;
        await this.checkHealth();
      }
    };
    void checks.run(tick, {
      signal: this.stopped.signal,
      onFailure: (err) => this.options.log?.warn({ err, service: this.service }, 'health check failed'),
    });
  }

  /** The deadline `ms` from now, on this client's clock (the scale of `CallOptions.deadline`). */
  deadlineAfter(ms: number): number {
    return this.clock.now() + ms;
  }

  /** An instance failing its checks or ejected, or the breaker not closed. */
  get degraded(): boolean {
    const breaker = this.options.breaker;
    return this.instances.degraded || (breaker !== undefined && breaker.state !== 'closed');
  }

  /**
   * Calls `listener` whenever the service is seen coming back: an instance passes a health check
   * after failing one, or a health check ended the breaker's open period. Waits that were sized
   * for an outage (reconnect backoffs, replays) can end early. Returns the unsubscribe function.
   */
  onRecovered(listener: () => void): () => void {
    this.recoveredListeners.add(listener);
    return () => this.recoveredListeners.delete(listener);
  }

  /**
   * For a caller that met an open circuit: checks health now (joining a check in flight), waiting
   * at most `maxWaitMs` for the answer. Resolves true if the breaker lets calls through after it.
   */
  async recheck(maxWaitMs: number): Promise<boolean> {
    this.rechecking ??= this.checkHealth().finally(() => {
      this.rechecking = undefined;
    });
    let timer: TimerHandle | undefined;
    const answered = await Promise.race([
      this.rechecking.then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = this.clock.setTimeout(() => resolve(false), maxWaitMs);
      }),
    ]);
    this.clock.clearTimeout(timer);
    return answered && this.options.breaker?.state !== 'open';
  }

  private pool(instance: Instance): Pool {
    let pool = this.pools.get(instance.id);
    if (!pool) {
      pool = new Pool(instance.url.origin, {
        connections: this.options.connectionsPerInstance ?? 64,
        connectTimeout: this.options.connectTimeoutMs ?? 2000,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        keepAliveTimeout: 10_000,
      });
      this.pools.set(instance.id, pool);
    }
    return pool;
  }

  private pick(): { instance: Instance; pool: Pool } {
    const instance = this.instances.pick();
    return { instance, pool: this.pool(instance) };
  }

  /** Re-resolves names and re-checks every instance's health. */
  async refresh() {
    const onError = (host: string, err: unknown) =>
      this.options.log?.warn(
        { err, service: this.service, host },
        'could not resolve a service host; keeping its name',
      );
    try {
      this.instances.replace(await expandDns(this.configured, undefined, onError));
    } catch (err) {
      this.options.log?.warn(
        { err, service: this.service },
        'could not update the instance list; keeping it',
      );
    }
    await this.checkHealth();
  }

  /** Applies a round of health checks: instance states, evidence for the breaker, recovery news. */
  private applyHealth(results: readonly (readonly [string, string])[]) {
    const breaker = this.options.breaker;
    if (breaker?.state === 'closed') this.evidenceSpent = false;
    let news = false;
    let anyHealthy = false;
    for (const [id, status] of results) {
      const ok = status === 'healthy' || status === 'warning';
      const instance = this.instances.all.find((i) => i.id === id);
      if (instance && this.instances.setHealthy(instance, ok)) news = true;
      if (ok) anyHealthy = true;
      else this.evidenceSpent = false;
    }
    let recovered = news;
    if (breaker && anyHealthy && (news || !this.evidenceSpent) && breaker.evidenceOfHealth()) {
      this.evidenceSpent = true;
      recovered = true;
    }
    if (recovered) for (const listener of this.recoveredListeners) listener();
  }

  /**
   * `deadline` is the attempt's (the policy's total timeout or the caller's, whichever is sooner).
   * Each attempt asks for the token anew: a retry after a renewal carries the fresh one.
   */
  private async headers(options: CallOptions, extra: Record<string, string>, deadline = options.deadline) {
    const headers: Record<string, string> = { ...extra };
    const tokens = this.options.tokens;
    if (tokens) headers.authorization = `Bearer ${await tokens.token(this.options.audience ?? this.service)}`;
    if (options.requestId) headers['x-request-id'] = options.requestId;
    injectTraceContext(headers);
    if (deadline !== undefined) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) throw new CortexError('timeout', `deadline passed before calling ${this.service}`);
      headers[DEADLINE_HEADER] = String(remaining);
    }
    return headers;
  }

  /** Each attempt a span of its own when tracing is on (see call-tracing.ts). */
  private attempts<T>(fn: (ctx: AttemptContext) => Promise<T>) {
    return traceAttempts(this.service, () => this.options.breaker?.state, this.clock, fn);
  }

  /** `POST /tool/{name}` → the `result`, validated with `schema` when given. */
  callTool<T = unknown>(
    name: string,
    args: unknown,
    options: CallOptions & { schema?: z.ZodType<T> } = {},
  ): Promise<T> {
    const payload = JSON.stringify({ arguments: args });
    // The policy's events (logged by service-kit) say which tool and request they are about.
    const scope = { requestId: options.requestId, kind: 'tool' as const, operation: name };
    return inCallScope(scope, () =>
      traceCall(this.service, 'tool', name, () => this.callToolOnce(name, payload, options)),
    );
  }

  private callToolOnce<T>(name: string, payload: string, options: CallOptions & { schema?: z.ZodType<T> }) {
    return this.policy.execute(
      this.attempts(async ({ signal, deadline }) => {
        const { pool, instance } = this.pick();
        traceInstance(instance.url.origin);
        let res: Awaited<ReturnType<Pool['request']>>;
        try {
          res = await pool.request({
            path: `/tool/${encodeURIComponent(name)}`,
            method: 'POST',
            headers: await this.headers(options, { 'content-type': 'application/json' }, deadline),
            body: payload,
            signal,
          });
        } catch (err) {
          const e = errorFromTransport(this.service, err, signal);
          if (e.code !== 'aborted') this.instances.report(instance, false);
          throw e;
        }
        this.instances.report(instance, res.statusCode < 500);
        let body: unknown;
        try {
          body = await res.body.json();
        } catch (err) {
          if (res.statusCode >= 400) body = undefined;
          else throw errorFromTransport(this.service, err, signal);
        }
        if (res.statusCode >= 400) {
          throw errorFromResponse(
            this.service,
            res.statusCode,
            body,
            parseRetryAfter(res.headers['retry-after'], this.clock.wallNow()),
          );
        }
        const parsed = toolResponse.safeParse(body);
        if (!parsed.success) throw new CortexError('data_error', `${this.service} answered without a result`);
        if (!options.schema) return parsed.data.result as T;
        const result = options.schema.safeParse(parsed.data.result);
        if (!result.success)
          throw new CortexError('data_error', `${this.service} answered ${name} with an unexpected shape`);
        return result.data;
      }),
      options.signal,
      options.deadline,
    );
  }

  /**
   * `GET /resource/{path}` as an async iterator of items. The connection is made under the policy
   * (retried, broken, timed out); once items flow, a failure ends the iteration with an error, since
   * items already handed out cannot be taken back.
   */
  async *getResource(path: string, options: ResourceOptions = {}) {
    const query = options.query
      ? `?${new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)]))}`
      : '';
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const scope = { requestId: options.requestId, kind: 'stream' as const, operation: path.split('/')[0] };
      const res = await inCallScope(scope, () =>
        traceCall(this.service, 'stream', scope.operation ?? path, () =>
          this.connectResource(path, query, options, controller),
        ),
      );
      options.onOpen?.();
      try {
        for await (const message of readSse(res.body)) {
          let item: unknown;
          try {
            item = JSON.parse(message.data);
          } catch (err) {
            throw new CortexError('data_error', `${this.service} streamed malformed JSON`, { cause: err });
          }
          if (message.id !== undefined) options.onId?.(message.id);
          if (typeof item === 'object' && item !== null) {
            if ((item as { end?: unknown }).end === true) return;
            // By shape: an event with an `error` field of its own (task_failed) is an item.
            const failure = inBandError(item);
            if (failure) throw errorFromResponse(this.service, 503, failure, undefined);
          }
          yield item;
        }
      } catch (err) {
        throw errorFromTransport(this.service, err, controller.signal);
      }
      throw new CortexError('data_error', `${this.service} ended ${path} without its end marker`);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  /** Connects to a resource under the policy (retried, broken, timed out). */
  private connectResource(
    path: string,
    query: string,
    options: ResourceOptions,
    controller: AbortController,
  ) {
    return this.policy.execute(
      this.attempts(async ({ signal, deadline }) => {
        const { pool, instance } = this.pick();
        traceInstance(instance.url.origin);
        const attemptSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
        try {
          const r = await pool.request({
            path: `/resource/${path}${query}`,
            method: 'GET',
            bodyTimeout: options.idleTimeoutMs ?? this.timeoutMs,
            headers: await this.headers(
              options,
              {
                accept: 'text/event-stream',
                ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
              },
              deadline,
            ),
            signal: attemptSignal,
          });
          this.instances.report(instance, r.statusCode < 500);
          if (r.statusCode >= 400) {
            const body = await r.body.json().catch(() => undefined);
            throw errorFromResponse(
              this.service,
              r.statusCode,
              body,
              parseRetryAfter(r.headers['retry-after'], this.clock.wallNow()),
            );
          }
          return r;
        } catch (err) {
          const e = errorFromTransport(this.service, err, attemptSignal);
          // An error answer was reported above; the caller's own abort says nothing of the instance.
          if (!hasCode(err) && e.code !== 'aborted') this.instances.report(instance, false);
          throw e;
        }
      }),
      options.signal,
      options.deadline,
    );
  }

  /** Collects a finite resource. */
  async collect<T = unknown>(
    path: string,
    options: CallOptions & { query?: Record<string, string | number> } = {},
  ) {
    const items: T[] = [];
    for await (const item of this.getResource(path, options)) items.push(item as T);
    return items;
  }

  /**
   * Asks every instance's `/health`. The service is as healthy as its best instance: one live
   * instance is enough to serve calls. Every check is also evidence: instance states are updated,
   * and a healthy answer ends the breaker's open period (see `applyHealth`).
   */
  async checkHealth(
    signal?: AbortSignal,
  ): Promise<{ status: 'healthy' | 'warning' | 'unhealthy'; instances: Record<string, string> }> {
    const rank = { healthy: 0, warning: 1, unhealthy: 2 } as const;
    const results = await Promise.all(
      this.instances.all.map(async (instance) => {
        try {
          const res = await this.pool(instance).request({
            path: '/health',
            method: 'GET',
            signal: signal ?? AbortSignal.timeout(2000),
            headersTimeout: 2000,
          });
          const body = (await res.body.json().catch(() => ({}))) as { status?: string };
          const status = body.status === 'healthy' || body.status === 'warning' ? body.status : 'unhealthy';
          return [instance.id, status] as const;
        } catch {
          return [instance.id, 'unreachable'] as const;
        }
      }),
    );
    // A check the caller gave up on says nothing about the instances.
    if (!signal?.aborted && !this.closed) this.applyHealth(results);
    let best: keyof typeof rank = 'unhealthy';
    for (const [, s] of results)
      if (s in rank && rank[s as keyof typeof rank] < rank[best]) best = s as keyof typeof rank;
    return { status: best, instances: Object.fromEntries(results) };
  }

  async close() {
    this.closed = true;
    this.stopped.abort();
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}
