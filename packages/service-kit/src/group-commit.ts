/**
 * Group commit by natural batching: a call that finds the writer idle is written at once (no
 * added latency for a lone caller); calls that arrive while a batch is being committed wait and
 * go together in the next one. Throughput rises with load instead of queueing per row.
 */
export class GroupCommitter<I, R> {
  private queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  batches = 0;
  items = 0;

  constructor(
    private readonly write: (items: I[]) => Promise<R[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  /** Several items that arrived together: they go in the same batch (when they fit in one). */
  submitMany(items: readonly I[]): Promise<R[]> {
    const results = items.map(
      (item) => new Promise<R>((resolve, reject) => this.queue.push({ item, resolve, reject })),
    );
    if (!this.flushing && items.length > 0) void this.drain();
    return Promise.all(results);
  }

  /** Resolves once everything submitted so far is written (used on shutdown). */
  idle(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain() {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.batches++;
      this.items += batch.length;
      try {
        const results = await this.write(batch.map((b) => b.item));
        batch.forEach((b, i) => {
          b.resolve(results[i] as R);
        });
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
