import { describe, expect, it } from 'vitest';
import { FakeClock } from './fake-clock';

describe('FakeClock', () => {
  it('runs due timers in due order, each at its own time', () => {
    const clock = new FakeClock(100);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 20);
    const gone = clock.setTimeout(() => seen.push('never'), 5);
    clock.clearTimeout(gone);
    clock.advance(15);
    expect(seen).toEqual(['a@110']);
    clock.advance(100);
    expect(seen).toEqual(['a@110', 'b@120', 'c@120']);
    expect(clock.now()).toBe(215);
    expect(clock.pendingTimers).toBe(0);
  });

  it('advanceAsync lets continuations schedule timers that still fire in range', async () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    const wait = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
    const done = (async () => {
      await wait(10);
      seen.push(clock.now());
      await wait(10);
      seen.push(clock.now());
    })();
    await clock.advanceAsync(25);
    await done;
    expect(seen).toEqual([10, 20]);
  });
});
