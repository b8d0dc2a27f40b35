import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { CortexError } from '@cortex/errors';

export interface PendingItem {
  item_id: string;
  user_id: string;
  data: {
    content: string;
    conversation_id: string | null;
    timestamp: string;
    metadata: Record<string, unknown>;
  };
}

export interface JournalOptions {
  maxItems: number;
  maxBytes: number;
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
  private readonly items = new Map<string, PendingItem & { bytes: number }>();
  private bytes = 0;
  private doneLines = 0;
  private queue: { line: string; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  /** Appends that were refused because the store was full or the disk failed. */
  refused = 0;
  /** Lines of a previous run that could not be read (a torn last write after a crash). */
  readonly skippedOnRecovery: number;

  private constructor(
    private readonly dir: string,
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
    takeLock(dir);
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
    const journal = new PendingJournal(dir, fh, options, records, skipped);
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

  /** A live item's data, as it was journalled. */
  dataOf(itemId: string): PendingItem['data'] | undefined {
    return this.items.get(itemId)?.data;
  }

  /** Live items, oldest first. */
  live(): PendingItem[] {
    return [...this.items.values()].map(({ bytes: _bytes, ...item }) => item);
  }

  /** Resolves once the item is durable; rejects with `overloaded` when full or on a disk error. */
  async append(item: PendingItem): Promise<void> {
    if (this.items.has(item.item_id)) return;
    const line = `${JSON.stringify({ a: item })}\n`;
    const bytes = Buffer.byteLength(line);
    if (
      this.closed ||
      this.items.size >= this.options.maxItems ||
      this.bytes + bytes > this.options.maxBytes
    ) {
      this.refused++;
      throw new CortexError('overloaded', 'The pending store is full');
    }
    this.track(item, bytes);
    try {
      await this.enqueue(line);
    } catch (err) {
      this.untrack(item.item_id);
      this.refused++;
      throw new CortexError('overloaded', 'The pending store could not be written', { cause: err });
    }
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

  private enqueue(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain() {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        await this.fh.write(batch.map((b) => b.line).join(''));
        await this.fh.datasync();
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
      if (this.doneLines > 1000 && this.doneLines > this.items.size) await this.compact().catch(() => {});
    }
    this.writing = undefined;
  }

  /** Rewrites the log with only live items: temp file, fsync, atomic rename, fsync the directory. */
  private async compact() {
    const path = join(this.dir, 'journal.log');
    const tmp = `${path}.tmp`;
    const body = [...this.items.values()]
      .map(({ bytes: _b, ...item }) => `${JSON.stringify({ a: item })}\n`)
      .join('');
    const out = await open(tmp, 'w');
    try {
      await out.writeFile(body);
      await out.datasync();
    } finally {
      await out.close();
    }
    renameSync(tmp, path);
    const dirHandle = await open(this.dir, 'r');
    await dirHandle.sync().catch(() => {});
    await dirHandle.close();
    await this.fh.close();
    this.fh = await open(path, 'a');
    this.doneLines = 0;
  }

  async close() {
    this.closed = true;
    await this.writing;
    await this.fh.close();
    releaseLock(this.dir);
  }
}

/**
 * One gateway per store: a second process on the same directory would replay the same items and
 * compact over the first one's log. A lock left by a killed process is taken over.
 */
function takeLock(dir: string) {
  const lock = join(dir, 'LOCK');
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
  }
  const holder = Number(readFileSync(lock, 'utf8'));
  if (holder && holder !== process.pid && isAlive(holder)) {
    throw new Error(`pending store ${dir} is in use by process ${holder} (set PENDING_STORE_DIR)`);
  }
  writeFileSync(lock, String(process.pid));
}

function releaseLock(dir: string) {
  try {
    unlinkSync(join(dir, 'LOCK'));
  } catch {}
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}
