import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { CortexError } from '@cortex/errors';
import { lockDirectory } from '@cortex/service-kit';
import type { InputData } from '../ingest/input-data';

export interface PendingItem {
  item_id: string;
  user_id: string;
  data: InputData;
  /** The W3C trace context of the request that journalled it (tracing on): its replay links to it. */
  traceparent?: string;
}

export interface JournalOptions {
  maxItems: number;
  maxBytes: number;
  /** Where failures the journal recovers from by itself are logged (a pino logger fits). */
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

type Record_ = { a: PendingItem } | { d: string };

/**
 * The gateway's durable pending store: an append-only log of inputs memory could not take yet.
 * An input is answered `received_storage_pending` only after its line is on disk (fdatasync).
 * Concurrent appends share one write and one sync (group commit), so durability costs one disk
 * flush per batch rather than per request. Stored items get a "done" line; once done lines
 * outnumber live ones the log is rewritten (compacted) with only the live items.
 */
export class PendingJournal {
  /** Durable items and those being written (counted against the bounds from the start). */
  private readonly items = new Map<string, PendingItem & { bytes: number }>();
  /** Appends not yet durable, by id: a second append of the same id shares the first's fate. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private bytes = 0;
  private doneLines = 0;
  /** Bytes of the log known to be written and synced: a failed write is cut back to this. */
  private goodSize = 0;
  /** Set when a failed write could not be cut back: appending after a torn line would lose it. */
  private broken = false;
  private queue: { line: string; adds: string[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  /** Appends that were refused because the store was full or the disk failed. */
  refused = 0;
  /** Lines of a previous run that could not be read (a torn last write after a crash). */
  readonly skippedOnRecovery: number;

  private constructor(
    private readonly dir: string,
    private readonly releaseLock: () => void,
    private fh: FileHandle,
    private readonly options: JournalOptions,
    recovered: Record_[],
    skipped: number,
  ) {
    for (const r of recovered) {
      if ('a' in r) this.track(r.a);
      else this.untrack(r.d);
    }
    this.skippedOnRecovery = skipped;
  }

  static async open(dir: string, options: JournalOptions): Promise<PendingJournal> {
    mkdirSync(dir, { recursive: true });
    // One gateway per store: a second process on the same directory would replay the same items
    // and compact over the first one's log.
    const release = lockDirectory(dir, 'set PENDING_STORE_DIR');
    const path = join(dir, 'journal.log');
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    const records: Record_[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as Record_);
      } catch {
        skipped++;
      }
    }
    const fh = await open(path, 'a');
    const journal = new PendingJournal(dir, release, fh, options, records, skipped);
    // Start from a compact file, and never append after a torn line.
    await journal.compact();
    return journal;
  }

  get size() {
    return this.items.size;
  }

  get sizeBytes() {
    return this.bytes;
  }

  /**
   * The data journalled for an item, once it is durable (waiting for a write in flight); undefined
   * if the item is not held, or its write failed.
   */
  async held(itemId: string): Promise<InputData | undefined> {
    await this.inFlight.get(itemId)?.catch(() => {});
    return this.items.get(itemId)?.data;
  }

  /** Durable items, oldest first. */
  live(): PendingItem[] {
    const out: PendingItem[] = [];
    for (const { bytes: _bytes, ...item } of this.items.values())
      if (!this.inFlight.has(item.item_id)) out.push(item);
    return out;
  }

  /**
   * Resolves once the item is durable, with the data held for it (the first append's, for an id
   * appended before); rejects with `overloaded` when full or on a disk error.
   */
  async append(item: PendingItem): Promise<InputData> {
    const known = this.items.get(item.item_id);
    if (known) {
      await this.inFlight.get(item.item_id);
      return known.data;
    }
    const line = `${JSON.stringify({ a: item })}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.broken) {
      this.refused++;
      throw new CortexError('overloaded', 'The pending store could not be written');
    }
    if (
      this.closed ||
      this.items.size >= this.options.maxItems ||
      this.bytes + bytes > this.options.maxBytes
    ) {
      this.refused++;
      throw new CortexError('overloaded', 'The pending store is full');
    }
    this.track(item, bytes);
    const durable = this.enqueue(line, [item.item_id]).catch((err: unknown) => {
      this.refused++;
      throw new CortexError('overloaded', 'The pending store could not be written', { cause: err });
    });
    this.inFlight.set(item.item_id, durable);
    await durable;
    return item.data;
  }

  /**
   * Marks items stored. Not synced on its own: if the line is lost in a crash, the replay stores the
   * item again and memory answers `already_exists`, which is harmless.
   */
  async markStored(itemIds: string[]): Promise<void> {
    const known = itemIds.filter((id) => this.items.has(id));
    if (known.length === 0) return;
    for (const id of known) this.untrack(id);
    this.doneLines += known.length;
    await this.enqueue(known.map((id) => `${JSON.stringify({ d: id })}\n`).join(''));
  }

  private track(item: PendingItem, bytes = Buffer.byteLength(JSON.stringify({ a: item })) + 1) {
    this.items.set(item.item_id, { ...item, bytes });
    this.bytes += bytes;
  }

  private untrack(id: string) {
    const it = this.items.get(id);
    if (!it) return;
    this.items.delete(id);
    this.bytes -= it.bytes;
  }

  private enqueue(line: string, adds: string[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line, adds, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain() {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      const data = batch.map((b) => b.line).join('');
      try {
        if (this.broken) throw new Error('the journal could not be cut back after a failed write');
        // writeFile loops until every byte is written: a short write must never count as durable.
        await this.fh.writeFile(data);
        await this.fh.datasync();
        this.goodSize += Buffer.byteLength(data);
        // Settled here, synchronously, not in the callers' callbacks: a compaction that starts
        // right after must see these items as durable (and failed ones as gone).
        for (const b of batch) {
          for (const id of b.adds) this.inFlight.delete(id);
          b.resolve();
        }
      } catch (err) {
        for (const b of batch) {
          for (const id of b.adds) {
            this.inFlight.delete(id);
            this.untrack(id);
          }
          b.reject(err);
        }
        await this.cutBack();
      }
      if (this.doneLines > 1000 && this.doneLines > this.items.size) {
        // A failed compaction leaves the old log in use, whole: it is tried again after more writes.
        await this.compact().catch((err) =>
          this.options.log?.warn(
            { err, dir: this.dir, doneLines: this.doneLines, items: this.items.size },
            'pending journal compaction failed; keeping the uncompacted log',
          ),
        );
      }
    }
    this.writing = undefined;
  }

  /** After a failed write: drop whatever part of it reached the file, so the next line starts clean. */
  private async cutBack() {
    try {
      await this.fh.truncate(this.goodSize);
      await this.fh.datasync();
    } catch (err) {
      this.broken = true;
      this.options.log?.error(
        { err, dir: this.dir, goodSize: this.goodSize },
        'pending journal could not be cut back after a failed write; refusing appends',
      );
    }
  }

  /**
   * Rewrites the log with only durable items: temp file, fsync, atomic rename, fsync the directory.
   * The new file's handle is opened before the rename, so whatever fails, appends go to a file
   * that is (or stays) `journal.log`, never to one that was renamed over.
   */
  private async compact() {
    const path = join(this.dir, 'journal.log');
    const tmp = `${path}.tmp`;
    const body = this.live()
      .map((item) => `${JSON.stringify({ a: item })}\n`)
      .join('');
    const out = await open(tmp, 'w');
    let next: FileHandle;
    try {
      await out.writeFile(body);
      await out.datasync();
      next = await open(tmp, 'a');
    } finally {
      await out.close();
    }
    try {
      renameSync(tmp, path);
    } catch (err) {
      await next.close();
      throw err;
    }
    const previous = this.fh;
    this.fh = next;
    this.goodSize = Buffer.byteLength(body);
    this.doneLines = 0;
    await previous
      .close()
      .catch((err) =>
        this.options.log?.warn({ err, dir: this.dir }, 'closing the replaced journal file failed'),
      );
    try {
      const dirHandle = await open(this.dir, 'r');
      try {
        await dirHandle.sync();
      } finally {
        await dirHandle.close();
      }
    } catch (err) {
      // Best effort: the rename is done; an unsynced directory entry only matters on power loss.
      this.options.log?.warn({ err, dir: this.dir }, 'syncing the journal directory after compaction failed');
    }
  }

  async close() {
    this.closed = true;
    await this.writing;
    await this.fh.close();
    this.releaseLock();
  }
}
