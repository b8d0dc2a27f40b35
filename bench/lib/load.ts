import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  path: string;
  body?: string;
  connections: number;
  /** Seconds to run; ignored when `amount` is given. */
  durationS?: number;
  /** Exactly this many requests, then stop. */
  amount?: number;
  /** Requests per second across all connections (an offered rate); unset: as fast as answered. */
  overallRate?: number;
  /** Headers for the n-th connection (so connections can be different users). */
  headersFor: (connection: number) => Record<string, string>;
  /** A label for each answer from its status and body; latencies are kept per label. */
  classify?: (status: number, body: string) => string;
  /** Keep every answer's start and end time (ms, performance clock). */
  timeline?: boolean;
  timeoutS?: number;
}

export interface Answer {
  startMs: number;
  endMs: number;
  outcome: string;
}

export interface LoadResult {
  durationS: number;
  total: number;
  /** Latencies in ms (exact, from autocannon's per-response hrtime), per outcome label. */
  latencies: Map<string, number[]>;
  errors: number;
  timeouts: number;
  timeline: Answer[];
}

const defaultClassify = (status: number) => String(status);

/**
 * autocannon with every answer's latency kept exactly: its own histogram is integer milliseconds
 * and skips non-2xx answers, and the benches compare sub-millisecond floors and 4xx/5xx routes.
 */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const classify = options.classify ?? defaultClassify;
  const latencies = new Map<string, number[]>();
  const timeline: Answer[] = [];
  let lastOutcome = 'unknown';
  let nextConnection = 0;
  let settle: (err: Error | null, result: autocannon.Result) => void = () => {};
  const done = new Promise<LoadResult>((resolve, reject) => {
    settle = (err, result) => {
      if (err) return reject(err);
      let total = 0;
      for (const l of latencies.values()) total += l.length;
      resolve({
        durationS: result.duration,
        total,
        latencies,
        errors: result.errors,
        timeouts: result.timeouts,
        timeline,
      });
    };
  });
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      ...(options.amount === undefined ? { duration: options.durationS ?? 10 } : { amount: options.amount }),
      timeout: options.timeoutS ?? 30,
      ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
      requests: [
        {
          method: options.method ?? 'GET',
          path: options.path,
          ...(options.body === undefined ? {} : { body: options.body }),
          // Runs just before autocannon's 'response' event for the same answer (same tick).
          onResponse: (status: number, body: string) => {
            lastOutcome = classify(status, body);
          },
        },
      ],
      setupClient: (client) => {
        client.setHeaders(options.headersFor(nextConnection++));
      },
    },
    (err, result) => settle(err, result),
  );
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    const outcome = lastOutcome;
    let list = latencies.get(outcome);
    if (!list) {
      list = [];
      latencies.set(outcome, list);
    }
    list.push(responseTime);
    if (options.timeline) {
      const endMs = performance.now();
      timeline.push({ startMs: endMs - responseTime, endMs, outcome });
    }
  });
  return done;
}

export const countOf = (r: LoadResult, outcome: string) => r.latencies.get(outcome)?.length ?? 0;

/** "received ×1234, 503 ×2" — what a run got back, for the table. */
export const outcomesOf = (r: LoadResult) =>
  [...r.latencies.entries()].map(([k, v]) => `${k} ×${v.length}`).join(', ') +
  (r.errors > 0 ? `, errors ×${r.errors}` : '');
