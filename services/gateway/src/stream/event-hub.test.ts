import { describe, expect, it } from 'vitest';
import { EventHub, type HubTimers } from './event-hub';
import type { StreamSink } from './sse-connection';

class FakeTimers implements HubTimers {
  active = new Map<number, () => void>();
  private next = 1;
  setInterval(fn: () => void) {
    const id = this.next++;
    this.active.set(id, fn);
    return id;
  }
  clearInterval(handle: unknown) {
    this.active.delete(handle as number);
  }
  tick() {
    for (const fn of this.active.values()) fn();
  }
}

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
    const hub = new EventHub(1000, new FakeTimers());
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
    const timers = new FakeTimers();
    const hub = new EventHub(1000, timers);
    const x = sink('u');
    const y = sink('v');
    const offX = hub.subscribe(x.s);
    const offY = hub.subscribe(y.s);
    expect(timers.active.size).toBe(1);
    timers.tick();
    expect(x.got[0]?.payload).toMatchObject({ type: 'heartbeat' });
    expect(y.got[0]?.payload).toMatchObject({ type: 'heartbeat' });
    offX();
    offX();
    expect(hub.size).toBe(1);
    offY();
    expect(hub.size).toBe(0);
    expect(timers.active.size).toBe(0);
    expect(hub.count('u')).toBe(0);
  });
});
