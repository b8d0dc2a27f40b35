import type { CodedError } from '@cortex/errors';
import { type Clock, systemClock } from './clock';
import { Emitter } from './events';
import { type Attempt, type Chain, callNext, type Layer, rootContext, runLayer } from './layer';
import type { AttemptContext } from './policy';
import { abortError, fastError, rejectSoon } from './policy-errors';
import { sharedWheel, type TimerWheel, WheelEntry } from './timer-wheel';

export interface BulkheadOptions {
  /** Calls allowed in flight at once. */
  maxConcurrent: number;
  /** Calls allowed to wait for a slot; beyond it, `bulkhead_full`. Default 0 (no queue). */
  maxQueue?: number;
  /** Longest wait in the queue before giving up with `bulkhead_full`. Default: no limit. */
  maxQueueWaitMs?: number;
  clock?: Clock;
}

/**
 * Limits concurrent calls to one dependency, with a bounded FIFO queue. A queued call leaves the
 * queue as soon as its caller aborts or its deadline passes (it would only be wasted work once it
 * got a slot), and takes its abort listener with it.
 */
export class Bulkhead implements Layer {
  private readonly slots: Slots;

  constructor(options: BulkheadOptions) {
    this.slots = new Slots(options);
  }

  get events(): Emitter {
    return this.slots.events;
  }

  /** Calls allowed in flight at once. */
  get maxConcurrent(): number {
    return this.slots.maxConcurrent;
  }

  /** Calls allowed to wait for a slot. */
  get maxQueue(): number {
    return this.slots.maxQueue;
  }

  /** Calls in flight. */
  get active(): number {
    return this.slots.running;
  }

  /** Calls waiting for a slot. */
  get queueLength(): number {
    return this.slots.queued;
  }

  execute<T>(fn: (ctx: AttemptContext) => Promise<T>, signal?: AbortSignal, deadline?: number): Promise<T> {
    return this.slots.admit(fn, rootContext(signal, deadline), undefined, 0);
  }

  [runLayer]<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    return this.slots.admit(fn, ctx, chain, index);
  }
}

/** The bulkhead's slots and queue, internal: what the queued calls need of it. */
class Slots {
  readonly events = new Emitter();
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  private readonly maxQueueWaitMs: number | undefined;
  running = 0;
  queued = 0;
  private head: QueuedCall | null = null;
  private tail: QueuedCall | null = null;
  readonly clock: Clock;
  readonly wheel: TimerWheel;

  constructor(options: BulkheadOptions) {
    if (!(options.maxConcurrent >= 1)) throw new RangeError('maxConcurrent must be >= 1');
    this.maxConcurrent = options.maxConcurrent;
    this.maxQueue = options.maxQueue ?? 0;
    this.maxQueueWaitMs = options.maxQueueWaitMs;
    this.clock = options.clock ?? systemClock;
    this.wheel = sharedWheel(this.clock);
  }

  admit<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    if (this.running < this.maxConcurrent && this.queued === 0) {
      this.running++;
      return this.runNow(fn, ctx, chain, index);
    }
    if (this.queued >= this.maxQueue) return rejectSoon(this.rejected('full'));
    if (ctx.signal?.aborted) return rejectSoon(this.rejected('aborted', abortError(ctx.signal)));
    const now = this.clock.now();
    let deadline = ctx.deadline ?? Number.POSITIVE_INFINITY;
    let ownLimit = false;
    if (this.maxQueueWaitMs !== undefined && now + this.maxQueueWaitMs < deadline) {
      deadline = now + this.maxQueueWaitMs;
      ownLimit = true;
    }
    if (deadline <= now) return rejectSoon(this.rejected('deadline', this.deadlineError(ownLimit)));
    return new Promise<T>((resolve, reject) => {
      const settle = resolve as (value: unknown) => void;
      const call = new QueuedCall(this, fn as Attempt<unknown>, ctx, chain, index, ownLimit, settle, reject);
      if (deadline !== Number.POSITIVE_INFINITY) this.wheel.add(call, deadline);
      ctx.signal?.addEventListener('abort', call);
      this.queued++;
      if (this.tail === null) this.head = call;
      else {
        this.tail.next = call;
        call.prev = this.tail;
      }
      this.tail = call;
    });
  }

  async runNow<T>(fn: Attempt<T>, ctx: AttemptContext, chain: Chain, index: number): Promise<T> {
    try {
      return await callNext(fn, ctx, chain, index);
    } finally {
      this.running--;
      const next = this.head;
      if (next !== null && this.running < this.maxConcurrent) {
        this.unlink(next);
        this.running++;
        next.start();
      }
    }
  }

  unlink(call: QueuedCall): void {
    if (call.prev === null) this.head = call.next;
    else call.prev.next = call.next;
    if (call.next === null) this.tail = call.prev;
    else call.next.prev = call.prev;
    call.prev = null;
    call.next = null;
    this.queued--;
  }

  rejected(reason: 'full' | 'aborted' | 'deadline', err?: CodedError): CodedError {
    if (this.events.active) this.events.emit({ type: 'bulkhead_reject', reason });
    return err ?? fastError('bulkhead_full', 'too many calls in flight and the queue is full');
  }

  deadlineError(ownLimit: boolean): CodedError {
    return ownLimit
      ? fastError('bulkhead_full', 'waited too long for a free slot')
      : fastError('timeout', 'deadline exceeded while waiting for a free slot');
  }
}

/** A call waiting for a slot: queue node, wheel entry and abort listener in one object. */
class QueuedCall extends WheelEntry {
  prev: QueuedCall | null = null;
  next: QueuedCall | null = null;

  constructor(
    private readonly slots: Slots,
    private readonly fn: Attempt<unknown>,
    private readonly ctx: AttemptContext,
    private readonly chain: Chain,
    private readonly index: number,
    private readonly ownLimit: boolean,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    super();
  }

  /** A slot is free (already counted as taken by the bulkhead). */
  start(): void {
    this.detach();
    this.slots.runNow(this.fn, this.ctx, this.chain, this.index).then(this.resolve, this.reject);
  }

  expire(): void {
    this.leave(this.slots.rejected('deadline', this.slots.deadlineError(this.ownLimit)));
  }

  handleEvent(): void {
    this.leave(this.slots.rejected('aborted', abortError(this.ctx.signal!)));
  }

  private leave(err: CodedError): void {
    this.slots.unlink(this);
    this.detach();
    this.reject(err);
  }

  private detach(): void {
    this.slots.wheel.remove(this);
    this.ctx.signal?.removeEventListener('abort', this);
  }
}
