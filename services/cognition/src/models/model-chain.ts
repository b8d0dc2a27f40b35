import { CortexError, type ErrorCode } from '@cortex/errors';
import { traceAttempts, traceCall } from '@cortex/network-client';
import {
  type AttemptContext,
  type CircuitBreaker,
  type Clock,
  classify,
  FallbackPolicy,
  type Policy,
  systemClock,
} from '@cortex/resilience';
import type { DependencyHealth } from '@cortex/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { budgetFor } from '../context/memory-reader';
import type { AnalysisResult, AnalysisTask, ModelBackend } from './analysis';

export interface ChainEntry {
  backend: ModelBackend;
  /**
   * Remote backends run under their own policy (`createBackendPolicy`: breaker and timeout, its
   * events reported by the policy itself); the local analyser needs none.
   */
  policy?: Policy;
  /** The policy's breaker, for `health()`. */
  breaker?: CircuitBreaker;
}

export interface FailedAttempt {
  backend: string;
  error: ErrorCode;
}

export type ChainOutcome =
  | { ok: true; result: AnalysisResult; backend: string; failed: FailedAttempt[]; durationMs: number }
  | { ok: false; failed: FailedAttempt[]; durationMs: number };

export interface RunOptions {
  signal?: AbortSignal | undefined;
  /** Absolute time on the chain's clock (`Clock.now()`, monotonic) after which no remote backend is worth starting. */
  deadline?: number | undefined;
  log?: FastifyBaseLogger;
}

export interface ModelChainOptions {
  /** Measures `durationMs` and tells whether the deadline has passed. Default: the system clock. */
  clock?: Clock;
}

/** One run of the chain: which backend answered, and which failed on the way, in order. */
interface Run {
  task: AnalysisTask;
  log: FastifyBaseLogger | undefined;
  failed: FailedAttempt[];
  /** Backends tried so far (index of the next one). */
  tried: number;
  /** The caller's abort was seen before a backend started: nothing after it is marked. */
  stopped: boolean;
  answeredBy?: string;
}

/**
 * Backends in order, as a fallback policy over their own policies: the first that answers wins, a
 * failing one is skipped to the next (every failure, not only "unavailable" ones: a backend that
 * answers nonsense is no use either). A backend whose circuit is open fails at once (no request),
 * so an outage costs one timeout per backend until its breaker opens, then nothing.
 */
export class ModelChain {
  private readonly clock: Clock;

  constructor(
    private readonly entries: readonly ChainEntry[],
    options: ModelChainOptions = {},
  ) {
    if (entries.length === 0) throw new RangeError('a model chain needs at least one backend');
    this.clock = options.clock ?? systemClock;
  }

  get backendNames(): string[] {
    return this.entries.map((e) => e.backend.name);
  }

  async run(task: AnalysisTask, options: RunOptions = {}): Promise<ChainOutcome> {
    const started = this.clock.now();
    const run: Run = { task, log: options.log, failed: [], tried: 0, stopped: false };
    const [first, ...rest] = this.entries.map(
      (entry) => (ctx: AttemptContext) => this.attempt(entry, run, ctx),
    );
    const chain = new FallbackPolicy<AnalysisResult>({ alternatives: rest, when: () => true });
    try {
      // Remote backends get the caller's deadline less the answer margin, so that when they run out
      // the local analyser and the answer still fit in the caller's time.
      const { value } = await chain.resolve(first!, {
        signal: options.signal,
        deadline: budgetFor(options.deadline),
      });
      const durationMs = this.clock.now() - started;
      return { ok: true, result: value, backend: run.answeredBy!, failed: run.failed, durationMs };
    } catch {
      // The fallback stops at the caller's abort: the backend it did not start is marked aborted.
      const next = this.entries[run.tried];
      if (options.signal?.aborted && !run.stopped && next !== undefined) {
        run.failed.push({ backend: next.backend.name, error: 'aborted' });
      }
      return { ok: false, failed: run.failed, durationMs: this.clock.now() - started };
    }
  }

  private async attempt(entry: ChainEntry, run: Run, ctx: AttemptContext): Promise<AnalysisResult> {
    const { backend, policy } = entry;
    run.tried++;
    if (ctx.signal?.aborted) {
      run.stopped = true;
      return this.failedWith(run, backend, 'aborted');
    }
    // A passed deadline is the caller's budget, not the backend's fault: do not let it trip a breaker.
    if (policy && ctx.deadline !== undefined && ctx.deadline <= this.clock.now()) {
      return this.failedWith(run, backend, 'timeout');
    }
    try {
      // A span per call (every backend, the local analyser too: the trace shows which answered)
      // and per attempt of a remote one, as the network client's calls have (call-tracing.ts).
      const result = await traceCall(backend.name, 'model', run.task.type, () =>
        policy
          ? policy.execute(
              traceAttempts(
                backend.name,
                () => entry.breaker?.state,
                this.clock,
                (inner) => backend.analyse(run.task, inner.signal),
              ),
              ctx.signal,
              ctx.deadline,
            )
          : backend.analyse(run.task, ctx.signal),
      );
      run.answeredBy = backend.name;
      return result;
    } catch (err) {
      const error = classify(err);
      run.log?.warn({ backend: backend.name, code: error.code, task: run.task.type }, 'model backend failed');
      return this.failedWith(run, backend, error.code);
    }
  }

  private failedWith(run: Run, backend: ModelBackend, code: ErrorCode): never {
    run.failed.push({ backend: backend.name, error: code });
    throw new CortexError(code, `model backend ${backend.name} failed`);
  }

  /**
   * Each backend's state. Unhealthy (503) only when nothing could answer: every circuit open and
   * no local analyser. An open circuit with a fallback behind it still serves, with less: warning.
   */
  health(): DependencyHealth {
    const backends: Record<string, { kind: string; state: string }> = {};
    let usable = false;
    let degraded = false;
    for (const { backend, breaker } of this.entries) {
      const state = breaker ? breaker.state : 'available';
      backends[backend.name] = { kind: backend.kind, state };
      if (state === 'open') degraded = true;
      else usable = true;
    }
    return { status: !usable ? 'unhealthy' : degraded ? 'warning' : 'healthy', backends };
  }

  async close() {
    await Promise.all(this.entries.map((e) => e.backend.close?.()));
  }
}
