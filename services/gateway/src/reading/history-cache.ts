import type { Clock, LastGoodStore } from '@cortex/resilience';
import { systemClock } from '@cortex/resilience';
import type { StoredInput } from '../ingest/input-data';

export interface HistoryCacheOptions {
  /** Users whose history is kept (least recently used go first). */
  maxEntries: number;
  /** Bytes of history kept in all (JSON size). */
  maxBytes: number;
  /** A copy older than this is never served (nor kept). */
  maxAgeMs: number;
  clock?: Clock;
}

interface Entry {
  value: StoredInput[];
  at: number;
  bytes: number;
}

/**
 * Each user's last good history, for `/history` to answer from while memory is away. An LRU
 * bounded by users, bytes and age, in this gateway's memory only: it is a courtesy copy, not a
 * store (memory and the pending journal are). One user's copy is never served to another.
 */
export class HistoryCache implements LastGoodStore<string, StoredInput[]> {
  private readonly entries = new Map<string, Entry>();
  private total = 0;
  private readonly clock: Clock;

  constructor(readonly options: HistoryCacheOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }

  get(userId: string): { value: StoredInput[]; at: number } | undefined {
    const entry = this.entries.get(userId);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.at > this.options.maxAgeMs) {
      this.remove(userId, entry);
      return undefined;
    }
    // Most recently used last: Map keeps insertion order, so re-inserting is the LRU touch.
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    return { value: entry.value, at: entry.at };
  }

  set(userId: string, value: StoredInput[], at: number): void {
    const old = this.entries.get(userId);
    if (old !== undefined) this.remove(userId, old);
    const bytes = Buffer.byteLength(JSON.stringify(value));
    // One user's history larger than the whole budget is not kept (it would evict everyone).
    if (bytes > this.options.maxBytes) return;
    this.entries.set(userId, { value, at, bytes });
    this.total += bytes;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.options.maxEntries && this.total <= this.options.maxBytes) break;
      this.remove(key, entry);
    }
  }

  private remove(userId: string, entry: Entry): void {
    this.entries.delete(userId);
    this.total -= entry.bytes;
  }
}
