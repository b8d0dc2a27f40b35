import type { ErrorCode } from '@cortex/errors';

/** Why a retry policy stopped retrying and let the error through. */
export type GiveUpReason =
  | 'not_retriable'
  | 'no_retry'
  | 'max_attempts'
  | 'budget'
  | 'deadline'
  | 'retry_after_too_long'
  | 'aborted';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Everything the policies report. One union so that a single listener can feed metrics and logs. */
export type ResilienceEvent =
  | { type: 'call'; outcome: 'success' | 'failure'; code: ErrorCode | undefined; durationMs: number }
  | { type: 'retry'; attempt: number; delayMs: number; reason: ErrorCode }
  | { type: 'give_up'; attempts: number; reason: GiveUpReason; code: ErrorCode }
  // Transitions name their circuit and the state left; `failures` are those that opened it.
  | {
      type: 'breaker_open';
      openMs: number;
      openings: number;
      circuit: string;
      from: BreakerState;
      failures: number;
    }
  /** `evidence`: left OPEN early on evidence of health (`evidenceOfHealth`), not by the clock. */
  | { type: 'breaker_half_open'; circuit: string; from: BreakerState; evidence?: true }
  | { type: 'breaker_close'; circuit: string; from: BreakerState }
  | { type: 'breaker_reject'; state: BreakerState; retryAfterMs: number | undefined }
  | { type: 'timeout'; timeoutMs: number; kind: 'attempt' | 'deadline' }
  | { type: 'bulkhead_reject'; reason: 'full' | 'aborted' | 'deadline' }
  | { type: 'fallback'; code: ErrorCode; source: 'value' | 'last_good' | 'computed' | 'chain' }
  // A background loop (`BackoffLoop`: reconnects, probes, replays) backing off, then through again.
  | { type: 'background_retry'; loop: string; attempt: number; delayMs: number; code: ErrorCode }
  | { type: 'background_recovered'; loop: string; failures: number };

export type Listener<E> = (event: E) => void;

/**
 * A tiny synchronous emitter. Policies check `active` before building an event object, so a
 * policy nobody listens to pays one property read per would-be event and allocates nothing.
 */
export class Emitter<E = ResilienceEvent> {
  // Replaced, never mutated, so that a listener that unsubscribes during emit cannot skip another.
  private listeners: readonly Listener<E>[] = [];
  active = false;

  /** Adds a listener; the returned function removes it. */
  on(listener: Listener<E>): () => void {
    this.listeners = [...this.listeners, listener];
    this.active = true;
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.active = this.listeners.length > 0;
    };
  }

  emit(event: E): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // Listeners observe; a broken metrics hook must not turn a successful call into a failure.
      }
    }
  }
}
