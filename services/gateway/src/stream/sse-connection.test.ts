import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { EventHub } from './event-hub';
import { SseConnection } from './sse-connection';

/** Just enough of a ServerResponse to record frames. */
class FakeResponse extends EventEmitter {
  frames: string[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  /** What `write` answers: false is a socket past its high-water mark. */
  below = true;
  private readonly callbacks: (() => void)[] = [];
  write(frame: string, cb?: () => void) {
    this.frames.push(frame);
    if (cb) this.callbacks.push(cb);
    return this.below;
  }
  /** The kernel took everything written so far. */
  flush() {
    this.writableLength = 0;
    for (const cb of this.callbacks.splice(0)) cb();
  }
  end() {
    this.ended = true;
  }
}

function conn(resumeFrom?: number, maxBuffered = 1024) {
  const raw = new FakeResponse();
  const c = new SseConnection(raw as unknown as ServerResponse, 'u', maxBuffered, resumeFrom);
  return { raw, c };
}

describe('SseConnection', () => {
  it('delivers stored events once, in feed order, with their seq as id', () => {
    const { raw, c } = conn();
    c.sendStored({ id: 'a' }, 5);
    c.sendStored({ id: 'a' }, 5);
    c.sendStored({ id: 'old' }, 3);
    c.sendStored({ id: 'b' }, 6);
    expect(raw.frames).toEqual(['id: 5\ndata: {"id":"a"}\n\n', 'id: 6\ndata: {"id":"b"}\n\n']);
  });

  it('turns the stored copy of a pending input into an id-only frame (the hub reconciles them)', () => {
    const { raw, c } = conn();
    const hub = new EventHub(60_000);
    const unsubscribe = hub.subscribe(c);
    hub.publishPending('u', { id: 'p' });
    hub.publishStored('u', { id: 'p' }, 9);
    hub.publishStored('u', { id: 'q' }, 10);
    unsubscribe();
    expect(raw.frames).toEqual(['data: {"id":"p"}\n\n', 'id: 9\n\n', 'id: 10\ndata: {"id":"q"}\n\n']);
  });

  it('holds live events during a replay and merges them without repeats', async () => {
    const { raw, c } = conn(4);
    c.sendStored({ id: 'live-7' }, 7);
    c.sendStored({ id: 'live-6' }, 6);
    expect(raw.frames).toEqual([]);
    c.sendStored({ id: 'replay-5' }, 5);
    expect(raw.frames).toEqual([]);
    await c.endReplay();
    expect(raw.frames.map((f) => f.split('\n')[0])).toEqual(['id: 5', 'id: 6', 'id: 7']);
  });

  it('paces a replay by its own bound, whatever the socket high-water mark', async () => {
    // A 64 KiB socket (Node 22+) accepts writes past a 1 KiB bound without asking to stop.
    const { raw, c } = conn(0, 1024);
    let done = false;
    raw.writableLength = 400;
    await c.replay({ id: 'a' }, 1); // under half the bound: no wait
    raw.writableLength = 600;
    const second = c.replay({ id: 'b' }, 2).then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    raw.flush();
    await second;
    expect(done).toBe(true);
    // A live event after the replay is delivered, not taken for a client that fell behind.
    c.sendStored({ id: 'live' }, 3);
    await c.endReplay();
    expect(raw.frames.map((f) => f.split('\n')[0])).toEqual(['id: 1', 'id: 2', 'id: 3']);
    expect(raw.ended).toBe(false);
  });

  it('waits for the socket when it asks, and stops waiting when the client leaves', async () => {
    const { raw, c } = conn(0, 1 << 20);
    raw.below = false;
    let done = false;
    const pending = c.replay({ id: 'a' }, 1).then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    raw.emit('close');
    await pending;
    expect(done).toBe(true);
  });

  it('cuts off a client that stops reading, with an error event', () => {
    const { raw, c } = conn(undefined, 100);
    raw.writableLength = 101;
    c.sendStored({ id: 'x' }, 1);
    expect(raw.frames).toHaveLength(1);
    expect(JSON.parse((raw.frames[0] as string).slice(6))).toMatchObject({ type: 'error' });
    expect(raw.ended).toBe(true);
    c.sendStored({ id: 'y' }, 2);
    expect(raw.frames).toHaveLength(1);
  });

  it('writes nothing after the client went away', () => {
    const { raw, c } = conn();
    raw.emit('close');
    c.send({ type: 'heartbeat' });
    expect(raw.frames).toEqual([]);
  });
});
