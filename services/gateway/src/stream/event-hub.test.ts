import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { EventHub } from './event-hub';
import type { StreamSink } from './sse-connection';

function sink(userId: string) {
  const got: { kind: string; payload: object; seq?: number }[] = [];
  const s: StreamSink = {
    id: Math.random().toString(),
    userId,
    send: (payload) => got.push({ kind: 'send', payload }),
    sendStored: (payload, seq) =>
      got.push({ kind: payload ? 'stored' : 'position', payload: payload ?? {}, seq }),
    replay: async (payload, seq) => {
      got.push({ kind: payload ? 'replayed' : 'position', payload: payload ?? {}, seq });
    },
    close: () => got.push({ kind: 'close', payload: {} }),
  };
  return { s, got };
}

describe('EventHub', () => {
  it("delivers to the user's own streams only", () => {
    const hub = new EventHub(1000, new FakeClock(0));
    const a1 = sink('alice');
    const a2 = sink('alice');
    const b = sink('bob');
    for (const x of [a1, a2, b]) hub.subscribe(x.s);
    hub.publishStored('alice', { id: 'i1' }, 1);
    hub.publishPending('alice', { id: 'i2' });
    expect(a1.got.map((g) => [g.kind, g.payload])).toEqual([
      ['stored', { id: 'i1' }],
      ['send', { id: 'i2' }],
    ]);
    expect(a2.got.map((g) => [g.kind, g.payload])).toEqual(a1.got.map((g) => [g.kind, g.payload]));
    expect(b.got).toEqual([]);
  });

  it('gives a stream that showed an input pending its stored copy as a position only', async () => {
    const hub = new EventHub(1000, new FakeClock(0));
    const early = sink('u');
    hub.subscribe(early.s);
    hub.publishPending('u', { id: 'p' });
    // Opened after the pending copy went out: it has not shown it, so it gets the stored copy whole.
    const late = sink('u');
    hub.subscribe(late.s);
    hub.publishStored('u', { id: 'p' }, 7);
    expect(early.got.map((g) => [g.kind, g.seq])).toEqual([
      ['send', undefined],
      ['position', 7],
    ]);
    expect(late.got.map((g) => [g.kind, g.payload, g.seq])).toEqual([['stored', { id: 'p' }, 7]]);
    // A replayed copy is reconciled the same way, once.
    hub.publishPending('u', { id: 'r' });
    await hub.replay(early.s, { id: 'r' }, 8);
    await hub.replay(late.s, { id: 'q' }, 9);
    expect(early.got.at(-1)).toMatchObject({ kind: 'position', seq: 8 });
    expect(late.got.at(-1)).toMatchObject({ kind: 'replayed', payload: { id: 'q' }, seq: 9 });
  });

  it('never shows a pending copy after its stored one, even to streams opened since', () => {
    const hub = new EventHub(1000, new FakeClock(0));
    hub.noteStored('gone'); // stored while nobody of this user listened here
    const x = sink('u');
    hub.subscribe(x.s);
    hub.publishStored('u', { id: 's' }, 3);
    hub.publishPending('u', { id: 's' });
    hub.publishPending('u', { id: 'gone' });
    hub.publishPending('u', { id: 'new' });
    expect(x.got.map((g) => [g.kind, g.payload])).toEqual([
      ['stored', { id: 's' }],
      ['send', { id: 'new' }],
    ]);
  });

  it('runs one shared heartbeat timer, only while someone listens', () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00.000Z'));
    const hub = new EventHub(1000, clock);
    const x = sink('u');
    const y = sink('v');
    const offX = hub.subscribe(x.s);
    const offY = hub.subscribe(y.s);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(999);
    expect(x.got).toEqual([]);
    clock.advance(1);
    expect(x.got[0]?.payload).toEqual({ type: 'heartbeat', timestamp: '2026-01-01T00:00:01.000Z' });
    expect(y.got[0]?.payload).toMatchObject({ type: 'heartbeat' });
    clock.advance(1000); // and again, on the one timer
    expect(x.got).toHaveLength(2);
    expect(clock.pendingTimers).toBe(1);
    offX();
    offX();
    expect(hub.size).toBe(1);
    offY();
    expect(hub.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(hub.count('u')).toBe(0);
  });
});
