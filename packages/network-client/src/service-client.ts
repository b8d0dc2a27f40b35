import { CortexError, DEADLINE_HEADER, hasCode } from '@cortex/errors';
import { Pool } from 'undici';
import { z } from 'zod';
import { errorFromResponse, errorFromTransport, parseRetryAfter } from './classify-http';
import { type Instance, parseInstances } from './discovery';
import { expandDns, InstanceSet, type InstanceSetOptions } from './instance-set';
import { type CallPolicy, noPolicy } from './policy';
import { readSse } from './sse-reader';

export interface ServiceClientOptions {
  service: string;
  urls: string | readonly string[];
  /** Bound on waiting for response headers and between body chunks, enforced by undici's shared timers. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  connectionsPerInstance?: number;
  policy?: CallPolicy;
  /** Outlier ejection of instances that keep failing. */
  ejection?: InstanceSetOptions;
  /** Background `/health` checks of every instance (and DNS re-resolution); 0 turns them off. */
  healthCheckIntervalMs?: number;
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
  /** Absolute deadline (Date.now() based); the remaining budget is sent to the service. */
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
  readonly policy: CallPolicy;
  private readonly timeoutMs: number;
  private healthTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ServiceClientOptions) {
    this.service = options.service;
    this.configured = parseInstances(options.service, options.urls);
    this.instances = new InstanceSet(this.configured, options.ejection);
    this.policy = options.policy ?? noPolicy;
    this.timeoutMs = options.timeoutMs ?? 5000;
    const interval = options.healthCheckIntervalMs ?? 0;
    if (interval > 0) {
      const tick = () => {
        void this.refresh().finally(() => {
          if (!this.closed) this.healthTimer = setTimeout(tick, interval).unref();
        });
      };
      tick();
    }
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
    try {
      this.instances.replace(await expandDns(this.configured));
    } catch {}
    const health = await this.checkHealth();
    for (const instance of this.instances.all) {
      const state = health.instances[instance.id];
      this.instances.setHealthy(instance, state === 'healthy' || state === 'warning');
    }
  }

  /** `deadline` is the attempt's (the policy's total timeout or the caller's, whichever is sooner). */
  private headers(options: CallOptions, extra: Record<string, string>, deadline = options.deadline) {
    const headers: Record<string, string> = { ...extra };
    if (options.requestId) headers['x-request-id'] = options.requestId;
    if (deadline !== undefined) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new CortexError('timeout', `deadline passed before calling ${this.service}`);
      headers[DEADLINE_HEADER] = String(remaining);
    }
    return headers;
  }

  /** `POST /tool/{name}` → the `result`, validated with `schema` when given. */
  callTool<T = unknown>(
    name: string,
    args: unknown,
    options: CallOptions & { schema?: z.ZodType<T> } = {},
  ): Promise<T> {
    const payload = JSON.stringify({ arguments: args });
    return this.policy.execute(
      async ({ signal, deadline }) => {
        const { pool, instance } = this.pick();
        let res: Awaited<ReturnType<Pool['request']>>;
        try {
          res = await pool.request({
            path: `/tool/${encodeURIComponent(name)}`,
            method: 'POST',
            headers: this.headers(options, { 'content-type': 'application/json' }, deadline),
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
            parseRetryAfter(res.headers['retry-after']),
          );
        }
        const parsed = toolResponse.safeParse(body);
        if (!parsed.success) throw new CortexError('data_error', `${this.service} answered without a result`);
        if (!options.schema) return parsed.data.result as T;
        const result = options.schema.safeParse(parsed.data.result);
        if (!result.success)
          throw new CortexError('data_error', `${this.service} answered ${name} with an unexpected shape`);
        return result.data;
      },
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
      const res = await this.policy.execute(
        async ({ signal, deadline }) => {
          const { pool, instance } = this.pick();
          const attemptSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
          try {
            const r = await pool.request({
              path: `/resource/${path}${query}`,
              method: 'GET',
              bodyTimeout: options.idleTimeoutMs ?? this.timeoutMs,
              headers: this.headers(
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
                parseRetryAfter(r.headers['retry-after']),
              );
            }
            return r;
          } catch (err) {
            const e = errorFromTransport(this.service, err, attemptSignal);
            // An error answer was reported above; the caller's own abort says nothing of the instance.
            if (!hasCode(err) && e.code !== 'aborted') this.instances.report(instance, false);
            throw e;
          }
        },
        options.signal,
        options.deadline,
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
            if ('error' in item) throw errorFromResponse(this.service, 503, item, undefined);
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
   * instance is enough to serve calls.
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
    let best: keyof typeof rank = 'unhealthy';
    for (const [, s] of results)
      if (s in rank && rank[s as keyof typeof rank] < rank[best]) best = s as keyof typeof rank;
    return { status: best, instances: Object.fromEntries(results) };
  }

  async close() {
    this.closed = true;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}
