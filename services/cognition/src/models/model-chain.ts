import type { ErrorCode } from '@cortex/errors';
import { type CircuitBreaker, classify, type Listener, type ResilienceEvent } from '@cortex/resilience';
import type { DependencyHealth } from '@cortex/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { budgetFor } from '../context/memory-reader';
import type { AnalysisResult, AnalysisTask, ModelBackend } from './analysis';
import type { CallPolicy } from './backend-policy';

export interface ChainEntry {
  backend: ModelBackend;
  /** Remote backends run under their own breaker and timeout; the local analyser needs neither. */
  policy?: CallPolicy;
  breaker?: CircuitBreaker;
  /** Told of every call's outcome and duration (the policy's layers report their own events). */
  events?: Listener<ResilienceEvent>;
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
  /** Absolute (Date.now based) time after which no remote backend is worth starting. */
  deadline?: number | undefined;
  log?: FastifyBaseLogger;
}

/**
 * Backends in order: the first that answers wins, a failing one is skipped to the next. A backend
 * whose circuit is open fails at once (no request), so an outage costs one timeout per backend
 * until its breaker opens, then nothing.
 */
export class ModelChain {
  constructor(
    private readonly entries: readonly ChainEntry[],
    private readonly now: () => number = Date.now,
  ) {
    if (entries.length === 0) throw new RangeError('a model chain needs at least one backend');
  }

  get backendNames(): string[] {
    return this.entries.map((e) => e.backend.name);
  }

  async run(task: AnalysisTask, options: RunOptions = {}): Promise<ChainOutcome> {
    const started = this.now();
    // Remote backends get the caller's deadline less the answer margin, so that when they run out
    // the local analyser and the answer still fit in the caller's time.
    const deadline = budgetFor(options.deadline);
    const failed: FailedAttempt[] = [];
    for (const { backend, policy, events } of this.entries) {
      if (options.signal?.aborted) {
        failed.push({ backend: backend.name, error: 'aborted' });
        break;
      }
      // A passed deadline is the caller's budget, not the backend's fault: do not let it trip a breaker.
      if (policy && deadline !== undefined && deadline <= this.now()) {
        failed.push({ backend: backend.name, error: 'timeout' });
        continue;
      }
      const callStarted = this.now();
      try {
        const result = policy
          ? await policy.execute((ctx) => backend.analyse(task, ctx.signal), options.signal, deadline)
          : await backend.analyse(task, options.signal);
        const now = this.now();
        events?.({ type: 'call', outcome: 'success', code: undefined, durationMs: now - callStarted });
        return { ok: true, result, backend: backend.name, failed, durationMs: now - started };
      } catch (err) {
        const error = classify(err);
        events?.({
          type: 'call',
          outcome: 'failure',
          code: error.code,
          durationMs: this.now() - callStarted,
        });
        failed.push({ backend: backend.name, error: error.code });
        options.log?.warn(
          { backend: backend.name, code: error.code, task: task.type },
          'model backend failed',
        );
      }
    }
    return { ok: false, failed, durationMs: this.now() - started };
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
