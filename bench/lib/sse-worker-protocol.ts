/** What bench/sse.ts and its SSE client processes (lib/sse-worker.ts) say to each other. */
export interface StreamSpec {
  user: string;
  authorization: string;
}

export type WorkerCommand =
  | { type: 'open'; url: string; streams: StreamSpec[]; concurrency: number }
  | { type: 'count' }
  | { type: 'collect' }
  | { type: 'close' };

export type WorkerReport =
  | { type: 'opened'; established: number; failed: number; failures: string[]; seconds: number }
  | { type: 'counted'; deliveries: number }
  | { type: 'collected'; seqs: number[]; latencies: number[]; closedEarly: number };

/** CLOCK_MONOTONIC in ms: the same clock in every process on the machine. */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;
