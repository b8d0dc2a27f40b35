import { describe, expect, it } from 'vitest';
import { GroupCommitter } from './group-commit';

/** A writer whose batches the test completes by hand, recording what each contained. */
function manualWriter() {
  const batches: { items: number[]; finish: (err?: unknown) => void }[] = [];
  const write = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({
        items,
        finish: (err) => (err ? reject(err) : resolve(items.map((i) => `ok-${i}`))),
      });
    });
  return { batches, write };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommitter', () => {
  it('writes a lone call at once, alone, with no timer', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write);
    const result = committer.submit(1);
    // Synchronously handed to the writer: nothing waits for a window or a timer.
    expect(batches.map((b) => b.items)).toEqual([[1]]);
    batches[0]?.finish();
    expect(await result).toBe('ok-1');
    expect([committer.batches, committer.items]).toEqual([1, 1]);
  });

  it('groups the calls that arrive while a batch commits into the next one', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write);
    const results = Array.from({ length: 100 }, (_, i) => committer.submit(i));
    // The first went alone; the other 99 queued behind it.
    expect(batches.map((b) => b.items.length)).toEqual([1]);
    batches[0]?.finish();
    await settle();
    expect(batches.map((b) => b.items.length)).toEqual([1, 99]);
    batches[1]?.finish();
    expect(await Promise.all(results)).toEqual(Array.from({ length: 100 }, (_, i) => `ok-${i}`));
    expect([committer.batches, committer.items]).toEqual([2, 100]);
    await committer.idle();
  });

  it('keeps batches within maxBatch, in arrival order', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write, 10);
    const results = Array.from({ length: 26 }, (_, i) => committer.submit(i));
    for (let n = 0; n < 4; n++) {
      await settle();
      batches[n]?.finish();
    }
    await Promise.all(results);
    expect(batches.map((b) => b.items.length)).toEqual([1, 10, 10, 5]);
    expect(batches.flatMap((b) => b.items)).toEqual(Array.from({ length: 26 }, (_, i) => i));
  });

  it('keeps batches within a weight bound, always taking at least one', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write, 100, 1, { weigh: (n: number) => n, maxWeight: 10 });
    const results = [1, 4, 5, 2, 30, 3, 3, 3].map((n) => committer.submit(n));
    for (let n = 0; n < 5; n++) {
      await settle();
      batches[n]?.finish();
    }
    await Promise.all(results);
    // The first goes alone; then [4,5] (9), [2] (2+30 would be 32), [30] alone, [3,3,3] (9).
    expect(batches.map((b) => b.items)).toEqual([[1], [4, 5], [2], [30], [3, 3, 3]]);
  });

  it('writes a batch one by one when it failed for one bad item, so only its caller fails', async () => {
    const written: number[][] = [];
    const committer = new GroupCommitter(
      async (items: number[]) => {
        written.push(items);
        if (items.includes(13)) throw new Error(items.length > 1 ? 'bad item in batch' : 'bad item');
        return items.map((n) => `ok-${n}`);
      },
      100,
      1,
      { splitOnFailure: (err) => (err as Error).message === 'bad item in batch' },
    );
    const first = committer.submit(1); // goes alone; the next three wait and share a batch
    const rest = [12, 13, 14].map((n) => committer.submit(n).catch((e: Error) => e.message));
    expect(await first).toBe('ok-1');
    expect(await Promise.all(rest)).toEqual(['ok-12', 'bad item', 'ok-14']);
    expect(written).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });

  it('fails only the calls of a failed batch and carries on with the next', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write);
    const first = committer.submit(1);
    const queued = [committer.submit(2), committer.submit(3)];
    batches[0]?.finish(new Error('database away'));
    await expect(first).rejects.toThrow('database away');
    await settle();
    batches[1]?.finish();
    expect(await Promise.all(queued)).toEqual(['ok-2', 'ok-3']);
  });

  it('idle() waits for everything submitted so far', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write);
    void committer.submit(1);
    let idle = false;
    const waiting = committer.idle().then(() => {
      idle = true;
    });
    await settle();
    expect(idle).toBe(false);
    batches[0]?.finish();
    await waiting;
    expect(idle).toBe(true);
  });
});

describe('GroupCommitter.submitMany', () => {
  it('keeps items that arrive together in one batch', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write);
    const results = committer.submitMany([1, 2, 3]);
    expect(batches.map((b) => b.items)).toEqual([[1, 2, 3]]);
    batches[0]?.finish();
    expect(await results).toEqual(['ok-1', 'ok-2', 'ok-3']);
  });
});

describe('GroupCommitter with several writers', () => {
  it('starts up to maxInFlight batches, then batches what waits', async () => {
    const { batches, write } = manualWriter();
    const committer = new GroupCommitter(write, 500, 2);
    const all = [1, 2, 3, 4].map((n) => committer.submit(n));
    expect(batches.map((b) => b.items)).toEqual([[1], [2]]);
    batches[0]?.finish();
    await settle();
    expect(batches.map((b) => b.items)).toEqual([[1], [2], [3, 4]]);
    batches[1]?.finish();
    batches[2]?.finish();
    expect(await Promise.all(all)).toEqual(['ok-1', 'ok-2', 'ok-3', 'ok-4']);
    await committer.idle();
  });
});
