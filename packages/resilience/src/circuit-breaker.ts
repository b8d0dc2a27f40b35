import { Circuit, REJECTED } from './circuit';
import type { CircuitBreakerOptions } from './circuit-breaker-options';
import type { BreakerState, Emitter } from './events';
import { type Attempt, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext } from './policy';
import { rejectSoon } from './policy-errors';

/** Where a breaker keeps its state machine; only this package's layers hold the key. */
export const circuitOf: unique symbol = Symbol('circuitOf');

/**
 * A circuit breaker around one dependency: CLOSED → OPEN → HALF_OPEN → CLOSED by its failures,
 * its probes and the clock (see the README). Compose it with `wrap`; directly outside a
 * `TimeoutPolicy` the two become one layer (`wrap` says so in `layout`).
 */
export class CircuitBreaker implements Layer {
  readonly [circuitOf]: Circuit;

  constructor(options: CircuitBreakerOptions = {}) {
    this[circuitOf] = new Circuit(options);
  }

  /** Transitions and rejections. */
  get events(): Emitter {
    return this[circuitOf].events;
  }

  /** Named in `circuit_open` errors (message and details) and in transition events. */
  get name(): string {
    return this[circuitOf].name;
  }

  /** The state as of now on the clock (no call needed to leave OPEN). */
  get state(): BreakerState {
    return this[circuitOf].state;
  }

  /** When an open circuit will let a probe through; undefined unless open. */
  get openUntil(): number | undefined {
    return this[circuitOf].openUntil;
  }

  /** Probes currently in flight (half-open only). */
  get probesInFlight(): number {
    return this[circuitOf].probesInFlight;
  }

  /**
   * Evidence from outside the probe path that the dependency answers again (a passed health
   * check): an open circuit ends its open period now and lets a probe through. Returns whether
   * it moved.
   */
  evidenceOfHealth(): boolean {
    return this[circuitOf].evidenceOfHealth();
  }

  /** Closes the circuit by hand (an operator override). */
  reset(): void {
    this[circuitOf].reset();
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this[runLayer](fn, rootContext(signal, deadline), undefined, 0);
  }

  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    const circuit = this[circuitOf];
    const slot = circuit.enter();
    if (slot === REJECTED) return rejectSoon(circuit.takeRejection());
    return admitted(circuit, fn, ctx, chain, index, slot);
  }
}

async function admitted<T>(
  circuit: Circuit,
  fn: Attempt<T>,
  ctx: AttemptContext,
  chain: Chain,
  index: number,
  slot: number,
): Promise<T> {
  const generation = circuit.epoch;
  const start = circuit.startTime();
  let value: T;
  try {
    value = await callNext(fn, ctx, chain, index);
  } catch (err) {
    circuit.leave(slot, generation, start, err, true);
    throw err;
  }
  circuit.leave(slot, generation, start, undefined, false);
  return value;
}
