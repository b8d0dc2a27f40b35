import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type PendingItem, PendingJournal } from './journal';

const dirs: string[] = [];
function freshDir() {
  const d = mkdtempSync(join(tmpdir(), 'journal-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const item = (n: number): PendingItem => ({
  item_id: `item-${n}`,
  user_id: 'u',
  data: { content: `c${n}`, conversation_id: null, timestamp: '2026-01-01T00:00:00.000Z', metadata: { n } },
});
const options = { maxItems: 100, maxBytes: 1024 * 1024 };

describe('PendingJournal', () => {
  it('keeps appended items across a reopen, in order, minus the stored ones', async () => {
    const dir = freshDir();
    const j = await PendingJournal.open(dir, options);
    await Promise.all([1, 2, 3, 4].map((n) => j.append(item(n))));
    await j.markStored(['item-2']);
    await j.close();
    const again = await PendingJournal.open(dir, options);
    expect(again.live().map((i) => i.item_id)).toEqual(['item-1', 'item-3', 'item-4']);
    expect(again.live()[0]).toEqual(item(1));
    await again.close();
  });

  it('recovers what a killed process left, skipping a torn last line', async () => {
    const dir = freshDir();
    const j = await PendingJournal.open(dir, options);
    await j.append(item(1));
    // Simulate a crash mid-write: no close, a partial line at the end, the lock left behind.
    appendFileSync(join(dir, 'journal.log'), '{"a":{"item_id":"item-2","us');
    const again = await PendingJournal.open(dir, options);
    expect(again.live().map((i) => i.item_id)).toEqual(['item-1']);
    expect(again.skippedOnRecovery).toBe(1);
    await again.append(item(3));
    expect(again.live().map((i) => i.item_id)).toEqual(['item-1', 'item-3']);
    await again.close();
    await j.close().catch(() => {});
  });

  it('refuses when full, by count or bytes, and accepts again once drained', async () => {
    const j = await PendingJournal.open(freshDir(), { maxItems: 2, maxBytes: 1024 * 1024 });
    await j.append(item(1));
    await j.append(item(2));
    await expect(j.append(item(3))).rejects.toMatchObject({ code: 'overloaded' });
    expect(j.refused).toBe(1);
    await j.markStored(['item-1']);
    await j.append(item(3));
    await j.close();
    const small = await PendingJournal.open(freshDir(), { maxItems: 100, maxBytes: 150 });
    await expect(
      small.append({ ...item(1), data: { ...item(1).data, content: 'x'.repeat(200) } }),
    ).rejects.toMatchObject({
      code: 'overloaded',
    });
    await small.close();
  });

  it('appending the same item twice keeps one copy', async () => {
    const j = await PendingJournal.open(freshDir(), options);
    await j.append(item(1));
    await j.append(item(1));
    expect(j.size).toBe(1);
    await j.close();
  });

  it("answers a concurrent append of the same id with the first one's data, once it is durable", async () => {
    const dir = freshDir();
    const j = await PendingJournal.open(dir, options);
    const first = j.append(item(1));
    // Not yet durable: not replayable, and not "held" until its write is synced.
    expect(j.live()).toEqual([]);
    const held = j.held('item-1');
    const second = j.append({ ...item(1), data: { ...item(1).data, content: 'a resend' } });
    expect(await first).toEqual(item(1).data);
    expect(await second).toEqual(item(1).data);
    expect(await held).toEqual(item(1).data);
    expect(j.live()).toEqual([item(1)]);
    expect(readFileSync(join(dir, 'journal.log'), 'utf8').trim().split('\n')).toHaveLength(1);
    await j.close();
  });

  it('a failed write fails every append waiting on it, leaves no torn line, and the next one lands', async () => {
    const dir = freshDir();
    const j = await PendingJournal.open(dir, options);
    // The disk fills part-way through a write: some bytes reach the file, then an error.
    const fh = (j as unknown as { fh: { writeFile(d: string): Promise<void> } }).fh;
    const write = fh.writeFile.bind(fh);
    fh.writeFile = async (d: string) => {
      fh.writeFile = write;
      await write(d.slice(0, 20));
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    };
    const [a, b] = await Promise.allSettled([j.append(item(1)), j.append(item(1))]);
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'overloaded' } });
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'overloaded' } });
    expect(await j.held('item-1')).toBeUndefined();
    expect(j.size).toBe(0);
    await j.append(item(2));
    await j.close();
    const again = await PendingJournal.open(dir, options);
    expect(again.skippedOnRecovery).toBe(0);
    expect(again.live()).toEqual([item(2)]);
    await again.close();
  });

  it('compacts the log so stored items do not grow it forever', async () => {
    const dir = freshDir();
    const j = await PendingJournal.open(dir, { maxItems: 5000, maxBytes: 10 * 1024 * 1024 });
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 800 }, (_, i) => item(round * 1000 + i));
      await Promise.all(batch.map((b) => j.append(b)));
      await j.markStored(batch.map((b) => b.item_id));
    }
    await j.append(item(99_999));
    await j.markStored(['nothing']);
    const lines = readFileSync(join(dir, 'journal.log'), 'utf8').trim().split('\n');
    // 2,400 adds and 2,400 done lines were written; compaction keeps far fewer.
    expect(lines.length).toBeLessThan(1700);
    await j.close();
    const again = await PendingJournal.open(dir, options);
    expect(again.live().map((i) => i.item_id)).toEqual(['item-99999']);
    await again.close();
  });

  it('keeps an item whose write completes just as a compaction starts', async () => {
    const dir = freshDir();
    const j = await PendingJournal.open(dir, { maxItems: 5000, maxBytes: 10 * 1024 * 1024 });
    const old = Array.from({ length: 1001 }, (_, i) => item(i));
    await Promise.all(old.map((o) => j.append(o)));
    // Items marked stored while item 4999's write is under way: the compaction runs right after
    // that write, and must count 4999 as durable (5000, still queued, is written after it).
    const busy = j.append(item(4999));
    await Promise.all([busy, j.markStored(old.map((o) => o.item_id)), j.append(item(5000))]);
    await j.append(item(5001));
    await j.close();
    const again = await PendingJournal.open(dir, options);
    expect(again.live().map((i) => i.item_id)).toEqual(['item-4999', 'item-5000', 'item-5001']);
    await again.close();
  });

  it('logs a failed compaction with its error and context, and keeps working on the old log', async () => {
    const dir = freshDir();
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      warn: (obj: object, msg: string) => logged.push({ obj: obj as Record<string, unknown>, msg }),
      error: (obj: object, msg: string) => logged.push({ obj: obj as Record<string, unknown>, msg }),
    };
    const j = await PendingJournal.open(dir, { maxItems: 5000, maxBytes: 10 * 1024 * 1024, log });
    mkdirSync(join(dir, 'journal.log.tmp')); // the compaction's temporary file cannot be created
    const batch = Array.from({ length: 1001 }, (_, i) => item(i));
    await Promise.all(batch.map((b) => j.append(b)));
    await j.markStored(batch.map((b) => b.item_id));
    await j.append(item(7777));
    expect(logged).toHaveLength(1);
    expect(logged[0]?.msg).toMatch(/compaction failed/);
    expect(logged[0]?.obj).toMatchObject({ dir, doneLines: 1001, err: { code: 'EISDIR' } });
    await j.close();
    rmSync(join(dir, 'journal.log.tmp'), { recursive: true });
    const again = await PendingJournal.open(dir, options);
    expect(again.live().map((i) => i.item_id)).toEqual(['item-7777']);
    await again.close();
  });

  it('refuses a directory another live process holds', async () => {
    const dir = freshDir();
    appendFileSync(join(dir, 'LOCK'), String(process.ppid));
    await expect(PendingJournal.open(dir, options)).rejects.toThrow(/in use by process/);
  });
});
