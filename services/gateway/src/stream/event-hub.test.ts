import { FakeClock } from '@cortex/resilience';
import { describe, expect, it } from 'vitest';
import { EventHub } from './event-hub';
import type { StreamSink } from './sse-connection';

function sink(userId: string) {
  const got: { kind: string; payload: object; seq?: number }[] = [];
  const s: StreamSink = {
    id: Math.random().toString(),
    userId,
    send: (payload) => got.push({ kind: 'send', payload }),
    sendPending: (payload) => got.push({ kind: 'pending', payload }),
    sendStored: (payload, seq) => got.push({ kind: 'stored', payload, seq }),
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
    expect(a1.got.map((g) => g.kind)).toEqual(['stored', 'pending']);
    expect(a2.got.map((g) => g.kind)).toEqual(['stored', 'pending']);
    expect(b.got).toEqual([]);
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
