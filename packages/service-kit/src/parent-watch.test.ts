import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { watchParent } from './parent-watch';

describe('watchParent', () => {
  it('calls onGone once, on the first look after the parent changed', () => {
    const clock = new FakeClock(0);
    let ppid = 4242;
    const gone: number[] = [];
    watchParent({ clock, intervalMs: 500, ppid: () => ppid, onGone: (p) => gone.push(p) });
    clock.advance(1500);
    expect(gone).toEqual([]);
    ppid = 1; // re-parented to init: the launcher died
    clock.advance(499);
    expect(gone).toEqual([]);
    clock.advance(1);
    expect(gone).toEqual([4242]);
    clock.advance(5000);
    expect(gone).toEqual([4242]);
  });

  it('stops watching when told, and never watches an orphan', () => {
    const clock = new FakeClock(0);
    let ppid = 4242;
    const gone: number[] = [];
    const stop = watchParent({ clock, intervalMs: 100, ppid: () => ppid, onGone: (p) => gone.push(p) });
    stop();
    ppid = 1;
    clock.advance(1000);
    watchParent({ clock, intervalMs: 100, ppid: () => 1, onGone: (p) => gone.push(p) });
    clock.advance(1000);
    expect(gone).toEqual([]);
  });
});
