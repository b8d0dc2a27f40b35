import { captureContext, linksFromContexts, type Span, tracingOn, withSpan } from '@cortex/telemetry';

type Waiting<I, R> = {
  item: I;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  /** The trace context of the request that submitted the item (tracing on only). */
  trace?: ReturnType<typeof captureContext>;
};

export interface GroupCommitOptions<I> {
  /**
   * With `maxWeight`, bounds a batch by more than its count (bytes, say): a batch takes items
   * while their weights add up to at most `maxWeight`, and always at least one.
   */
  weigh?: (item: I) => number;
  maxWeight?: number;
  /**
   * When a batch fails with an error this says is about its contents (one bad item), its items
   * are written again one by one, so each caller gets its own item's fate, not its neighbour's.
   * Not for outages: writing one by one then would only multiply the load.
   */
  splitOnFailure?: (err: unknown) => boolean;
}

/**
 * Group commit by natural batching: a call that finds a free writer is written at once (no added
 * latency for a lone caller); calls that arrive while every writer is busy wait and go together in
 * the next batch. Throughput rises with load instead of queueing per row. `maxInFlight` writers
 * may run at once, so that a batch can cross the network while the previous one commits.
 */
export class GroupCommitter<I, R> {
  private queue: Waiting<I, R>[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  batches = 0;
  items = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<R[]>,
    private readonly maxBatch = 500,
    private readonly maxInFlight = 1,
    private readonly options: GroupCommitOptions<I> = {},
  ) {}

  private waiting(item: I, resolve: (r: R) => void, reject: (e: unknown) => void): Waiting<I, R> {
    return tracingOn() ? { item, resolve, reject, trace: captureContext() } : { item, resolve, reject };
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push(this.waiting(item, resolve, reject));
      this.pump();
    });
  }

  /** Several items that arrived together: they go in the same batch (when they fit in one). */
  submitMany(items: readonly I[]): Promise<R[]> {
    const results = items.map(
      (item) => new Promise<R>((resolve, reject) => this.queue.push(this.waiting(item, resolve, reject))),
    );
    this.pump();
    return Promise.all(results);
  }

  /** Resolves once everything submitted so far is written (used on shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump() {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchLength());
      this.inFlight++;
      void this.flush(batch);
    }
  }

  private batchLength(): number {
    const n = Math.min(this.maxBatch, this.queue.length);
    const { weigh, maxWeight } = this.options;
    if (weigh === undefined || maxWeight === undefined) return n;
    let weight = 0;
    for (let i = 0; i < n; i++) {
      weight += weigh((this.queue[i] as Waiting<I, R>).item);
      if (weight > maxWeight) return Math.max(1, i);
    }
    return n;
  }

  private async writeOneByOne(batch: Waiting<I, R>[]) {
    for (const b of batch) {
      try {
        b.resolve((await this.write([b.item]))[0] as R);
      } catch (err) {
        b.reject(err);
      }
    }
  }

  private async flush(batch: Waiting<I, R>[]) {
    if (!tracingOn()) return this.flushBatch(batch);
    // A batch serves many requests: it links to each one's span, and is the child of the first
    // one's (so a lone request's trace reaches its database statement, and a batch is not left
    // as a trace of its own). It runs in whichever caller's context happened to pump it.
    const links = linksFromContexts(batch.map((b) => b.trace));
    const attributes = { 'cortex.batch.size': batch.length };
    const parent = batch[0]?.trace;
    return withSpan('group commit', { links, attributes, parent }, (span) => this.flushBatch(batch, span));
  }

  private async flushBatch(batch: Waiting<I, R>[], span?: Span) {
    this.batches++;
    this.items += batch.length;
    try {
      const results = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => {
        b.resolve(results[i] as R);
      });
    } catch (err) {
      const split = batch.length > 1 && this.options.splitOnFailure?.(err) === true;
      span?.setAttribute('cortex.batch.split', split);
      if (split) await this.writeOneByOne(batch);
      else for (const b of batch) b.reject(err);
    }
    this.inFlight--;
    this.pump();
    if (this.inFlight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
