import type { CodedError } from '@cortex/errors';
import type { CircuitBreakerOptions } from './circuit-breaker-options';
import { classify, isUpstreamFailure } from './classify';
import { type Clock, systemClock, type TimerHandle, unrefTimer } from './clock';
import { type BreakerState, Emitter } from './events';
import { fastError } from './policy-errors';
import { SlidingCounter } from './sliding-counter';

const CLOSED = 0;
const HALF_OPEN = 1;
const OPEN = 2;
/** CLOSED, HALF_OPEN or OPEN: an index into STATE_NAMES. */
type StateIndex = typeof CLOSED | typeof HALF_OPEN | typeof OPEN;
const STATE_NAMES: readonly BreakerState[] = ['closed', 'half_open', 'open'];
/** `enter()`'s answer for a rejected call. */
export const REJECTED = -2;
/** `enter()`'s answer for a call admitted while closed (not a probe). */
const NOT_A_PROBE = -1;

/**
 * The circuit breaker's state machine, internal to the package: `CircuitBreaker` is its public
 * face, and the layers that admit calls through it (the breaker's own, and the breaker fused with a
 * timeout) use the admission protocol below (`enter`, `takeRejection`, `epoch`, `startTime`,
 * `leave`, `cancel`).
 *
 * CLOSED → OPEN → HALF_OPEN → CLOSED. The state is a function of the clock: an open circuit
 * becomes half-open when its time is up whether or not a call arrives (and `state` says so), a
 * probe that never settles cannot wedge HALF_OPEN, and late results from calls admitted under an
 * earlier state are not held against the current one (a late success while open is evidence of
 * health, see `evidenceOfHealth`). The CLOSED fast path reads no clock and allocates nothing.
 */
export class Circuit {
  readonly events = new Emitter();
  private current: StateIndex = CLOSED;
  /** Bumped on every transition; a settling call compares it with the one it started under. */
  private generation = 0;
  private failures = 0;
  private readonly window: SlidingCounter | undefined;
  private openUntilAt = 0;
  private openings = 0;
  private stateTimer: TimerHandle | undefined;
  private rejection: CodedError | undefined;
  private probes = 0;
  private probeSuccesses = 0;
  private readonly probeStarts: Float64Array;
  private readonly probeTimers: (TimerHandle | undefined)[];
  private readonly settings: Required<Omit<CircuitBreakerOptions, 'slowCallMs' | 'mode' | 'clock' | 'name'>>;
  /** 'rate' mode: failures counted as a share of the calls in `window`; else consecutive. */
  private readonly byRate: boolean;
  /** Named in `circuit_open` errors (message and details) and in transition events. */
  readonly name: string;
  private readonly slowCallMs: number | undefined;
  private readonly clock: Clock;
  /**
   * Timers may fire a little before the clock says their time is up (Node's do, by a millisecond
   * now and then): re-arm instead of leaving the move to the next call, which may never come.
   */
  private readonly onStateTimer = () => {
    this.stateTimer = undefined;
    const now = this.clock.now();
    this.refresh(now);
    if (this.current === OPEN) this.armStateTimer(this.openUntilAt - now);
  };
  private readonly onProbeTimer: (() => void)[];

  constructor(options: CircuitBreakerOptions = {}) {
    this.settings = {
      failureThreshold: options.failureThreshold ?? 5,
      failureRateThreshold: options.failureRateThreshold ?? 0.5,
      minimumCalls: options.minimumCalls ?? 20,
      windowMs: options.windowMs ?? 10_000,
      buckets: options.buckets ?? 10,
      openMs: options.openMs ?? 5_000,
      openBackoffFactor: options.openBackoffFactor ?? 2,
      maxOpenMs: options.maxOpenMs ?? 60_000,
      halfOpenMaxProbes: options.halfOpenMaxProbes ?? 1,
      successThreshold: options.successThreshold ?? 1,
      probeTimeoutMs: options.probeTimeoutMs ?? 10_000,
      isFailure: options.isFailure ?? isUpstreamFailure,
    };
    if (!(this.settings.halfOpenMaxProbes >= 1) || !(this.settings.failureThreshold >= 1)) {
      throw new RangeError('halfOpenMaxProbes and failureThreshold must be >= 1');
    }
    this.slowCallMs = options.slowCallMs;
    this.name = options.name ?? 'circuit';
    this.clock = options.clock ?? systemClock;
    this.byRate = options.mode === 'rate';
    if (this.byRate) this.window = new SlidingCounter(this.settings.windowMs, this.settings.buckets);
    this.probeStarts = new Float64Array(this.settings.halfOpenMaxProbes).fill(Number.NaN);
    this.probeTimers = new Array(this.settings.halfOpenMaxProbes).fill(undefined);
    this.onProbeTimer = this.probeTimers.map((_, slot) => () => {
      this.probeTimers[slot] = undefined;
      const now = this.clock.now();
      this.refresh(now);
      const started = this.probeStarts[slot]!;
      if (this.current === HALF_OPEN && !Number.isNaN(started))
        this.armProbeTimer(slot, started + this.settings.probeTimeoutMs - now);
    });
  }

  /** The state as of now on the clock (no call needed to leave OPEN). */
  get state(): BreakerState {
    if (this.current !== CLOSED) this.refresh(this.clock.now());
    return STATE_NAMES[this.current]!;
  }

  /** When an open circuit will let a probe through; undefined unless open. */
  get openUntil(): number | undefined {
    return this.state === 'open' ? this.openUntilAt : undefined;
  }

  /** Probes currently in flight (half-open only). */
  get probesInFlight(): number {
    return this.probes;
  }

  /**
   * Admits a call: `NOT_A_PROBE` for a normal one, a probe slot when half-open, or `REJECTED`
   * (then `takeRejection()` has the error). A sentinel, not a throw: throwing costs more than
   * the whole rest of a fast rejection.
   */
  enter(): number {
    return this.current === CLOSED ? NOT_A_PROBE : this.admit();
  }

  /** The error for the `enter()` that just returned `REJECTED`. */
  takeRejection(): CodedError {
    const err = this.rejection!;
    this.rejection = undefined;
    return err;
  }

  /** Transition counter; `leave` ignores outcomes from calls admitted under another. */
  get epoch(): number {
    return this.generation;
  }

  /** When an admitted call started, if slow calls are measured (else 0, no clock read). */
  startTime(): number {
    return this.slowCallMs === undefined ? 0 : this.clock.now();
  }

  /** Records the outcome of a call admitted by `enter` under `generation`. */
  leave(slot: number, generation: number, start: number, err: unknown, failed: boolean): void {
    if (generation === this.generation) this.settle(slot, start, err, failed);
    // A call admitted before the circuit opened that now succeeds (in time) is the dependency
    // answering: evidence of health, though not a verdict on the state it was admitted under.
    else if (!failed && this.current === OPEN && !this.tooSlow(start)) this.evidenceOfHealth();
  }

  /**
   * Evidence from outside the probe path that the dependency answers again: a successful health
   * check, or a call that succeeded after the circuit opened. An open circuit ends its open period
   * now (however far it was backed off) and lets a probe through; the probe decides as usual, and
   * a failed one opens the circuit again with the next backed-off period. Returns whether it
   * moved; other states are left alone (half-open already lets probes through).
   */
  evidenceOfHealth(): boolean {
    if (this.current !== OPEN) return false;
    this.refresh(this.clock.now());
    if (this.current !== OPEN) return false;
    this.transition(HALF_OPEN);
    this.probeSuccesses = 0;
    if (this.events.active)
      this.events.emit({ type: 'breaker_half_open', circuit: this.name, from: 'open', evidence: true });
    return true;
  }

  private tooSlow(start: number): boolean {
    return this.slowCallMs !== undefined && this.clock.now() - start > this.slowCallMs;
  }

  /** Gives a probe slot back without a verdict (the call never reached the dependency). */
  cancel(slot: number, generation: number): void {
    if (slot >= 0 && generation === this.generation) this.freeProbe(slot);
  }

  /** Closes the circuit by hand (an operator override). */
  reset(): void {
    this.close();
  }

  /** Slow path of admission, see `enter`. */
  private admit(): number {
    const now = this.clock.now();
    this.refresh(now);
    if (this.current === CLOSED) return NOT_A_PROBE;
    if (this.current === OPEN) {
      this.rejection = this.reject('open', Math.max(1, Math.ceil(this.openUntilAt - now)));
      return REJECTED;
    }
    if (this.probes >= this.settings.halfOpenMaxProbes) {
      this.rejection = this.reject('half_open', undefined);
      return REJECTED;
    }
    const slot = this.probeStarts.findIndex(Number.isNaN);
    this.probeStarts[slot] = now;
    this.probes++;
    this.armProbeTimer(slot, this.settings.probeTimeoutMs);
    return slot;
  }

  private armProbeTimer(slot: number, ms: number): void {
    const timer = this.clock.setTimeout(this.onProbeTimer[slot]!, Math.max(1, ms));
    unrefTimer(timer);
    this.probeTimers[slot] = timer;
  }

  private armStateTimer(ms: number): void {
    this.stateTimer = this.clock.setTimeout(this.onStateTimer, Math.max(1, ms));
    unrefTimer(this.stateTimer);
  }

  private reject(state: BreakerState, retryAfterMs: number | undefined): CodedError {
    if (this.events.active) this.events.emit({ type: 'breaker_reject', state, retryAfterMs });
    const message =
      state === 'open'
        ? `circuit "${this.name}" is open`
        : `circuit "${this.name}" is half-open, probe in progress`;
    return fastError('circuit_open', message, { retryAfterMs, details: { circuit: this.name, state } });
  }

  private settle(slot: number, start: number, err: unknown, failed: boolean): void {
    // A caller's abort says nothing about the dependency: it neither trips nor heals the circuit.
    const error = failed ? classify(err) : undefined;
    const neutral = error?.code === 'aborted';
    let bad = error !== undefined && !neutral && this.settings.isFailure(error);
    const now = this.slowCallMs !== undefined || this.byRate || slot >= 0 ? this.clock.now() : 0;
    if (!bad && this.slowCallMs !== undefined && now - start > this.slowCallMs) bad = true;
    if (slot >= 0) {
      this.freeProbe(slot);
      if (bad) this.open(now);
      else if (!neutral && ++this.probeSuccesses >= this.settings.successThreshold) this.close();
      return;
    }
    if (neutral) return;
    if (!this.byRate) {
      if (!bad) this.failures = 0;
      else if (++this.failures >= this.settings.failureThreshold) this.open(now || this.clock.now());
      return;
    }
    const window = this.window!;
    window.add(now, 1, bad ? 1 : 0);
    if (
      bad &&
      window.events >= this.settings.minimumCalls &&
      window.marked / window.events >= this.settings.failureRateThreshold
    )
      this.open(now);
  }

  /** Moves OPEN → HALF_OPEN when its time is up, and HALF_OPEN → OPEN when a probe is overdue. */
  private refresh(now: number): void {
    if (this.current === OPEN && now >= this.openUntilAt) {
      this.transition(HALF_OPEN);
      this.probeSuccesses = 0;
      if (this.events.active)
        this.events.emit({ type: 'breaker_half_open', circuit: this.name, from: 'open' });
    }
    if (this.current === HALF_OPEN && this.probes > 0) {
      for (const started of this.probeStarts) {
        if (started + this.settings.probeTimeoutMs <= now) {
          this.open(now);
          return;
        }
      }
    }
  }

  private open(now: number): void {
    // Failed probes back the open period off; opening from CLOSED starts again at openMs.
    const from = STATE_NAMES[this.current]!;
    const failures = this.byRate ? (this.window?.marked ?? 0) : this.failures;
    this.openings = this.current === HALF_OPEN ? this.openings + 1 : 1;
    const { maxOpenMs, openMs: firstOpenMs, openBackoffFactor } = this.settings;
    const openMs = Math.min(maxOpenMs, firstOpenMs * openBackoffFactor ** (this.openings - 1));
    this.transition(OPEN);
    this.openUntilAt = now + openMs;
    // Only so that `breaker_half_open` (and a state gauge) is on time without traffic.
    this.armStateTimer(openMs);
    if (this.events.active) {
      this.events.emit({
        type: 'breaker_open',
        openMs,
        openings: this.openings,
        circuit: this.name,
        from,
        failures: from === 'half_open' ? 1 : failures,
      });
    }
  }

  private close(): void {
    const from = STATE_NAMES[this.current]!;
    const wasClosed = this.current === CLOSED;
    this.transition(CLOSED);
    this.openings = 0;
    this.failures = 0;
    this.window?.reset();
    if (!wasClosed && this.events.active)
      this.events.emit({ type: 'breaker_close', circuit: this.name, from });
  }

  private transition(to: StateIndex): void {
    this.current = to;
    this.generation++;
    for (let i = 0; i < this.probeStarts.length; i++) this.freeProbe(i);
    if (this.stateTimer !== undefined) {
      this.clock.clearTimeout(this.stateTimer);
      this.stateTimer = undefined;
    }
  }

  private freeProbe(slot: number): void {
    if (Number.isNaN(this.probeStarts[slot]!)) return;
    this.probeStarts[slot] = Number.NaN;
    this.probes--;
    const timer = this.probeTimers[slot];
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.probeTimers[slot] = undefined;
  }
}
