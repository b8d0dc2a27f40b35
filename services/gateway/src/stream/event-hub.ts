import { type Clock, systemClock, type TimerHandle, unrefTimer } from '@cortex/resilience';
import type { StreamSink } from './sse-connection';

const RECENT_LIMIT = 10_000;

/**
 * Fans events out to each user's open streams. Only the user's own sinks are ever looked up, so
 * an event cannot reach another user. One shared heartbeat timer serves every connection
 * (a timer per connection would be 10,000 timers at 10,000 connections).
 *
 * The hub alone reconciles an input's pending and stored copies: a pending copy is not shown
 * after its stored one, and a stream that showed the pending copy gets the stored one as its
 * position only. Each stream keeps only its feed position (seq order, its Last-Event-ID).
 */
export class EventHub {
  private readonly byUser = new Map<string, Set<StreamSink>>();
  private heartbeat: TimerHandle | undefined;
  private total = 0;
  private closed = false;
  /** Item ids stored lately, so a late "pending" copy of one (a timed-out store that had in fact
   * succeeded) is not shown after its stored copy. */
  private readonly recentlyStored = new Set<string>();
  /** Per open stream, the pending inputs it showed whose stored copy it has not had yet. */
  private readonly shownPending = new Map<StreamSink, Set<string>>();

  constructor(
    private readonly heartbeatMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  get size() {
    return this.total;
  }

  count(userId: string) {
    return this.byUser.get(userId)?.size ?? 0;
  }

  subscribe(sink: StreamSink): () => void {
    // Shutting down: a stream that got this far while others were closed is closed too, or the
    // server would wait for it.
    if (this.closed) {
      sink.close();
      return () => {};
    }
    let set = this.byUser.get(sink.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(sink.userId, set);
    }
    set.add(sink);
    this.shownPending.set(sink, new Set());
    this.total++;
    if (this.heartbeat === undefined) this.armHeartbeat();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.byUser.get(sink.userId);
      if (s?.delete(sink)) this.total--;
      this.shownPending.delete(sink);
      if (s?.size === 0) this.byUser.delete(sink.userId);
      if (this.total === 0 && this.heartbeat !== undefined) {
        this.clock.clearTimeout(this.heartbeat);
        this.heartbeat = undefined;
      }
    };
  }

  /** An item id just stored, for a user with no stream here: nothing to send, only to remember. */
  noteStored(id: string) {
    this.recentlyStored.add(id);
    if (this.recentlyStored.size > RECENT_LIMIT) {
      this.recentlyStored.delete(this.recentlyStored.values().next().value as string);
    }
  }

  publishStored(userId: string, payload: { id: string }, seq: number) {
    this.noteStored(payload.id);
    const set = this.byUser.get(userId);
    if (set) for (const sink of set) sink.sendStored(this.unseen(sink, payload), seq);
  }

  /** An input not yet stored (memory away); its stored copy later only moves the position. */
  publishPending(userId: string, payload: { id: string }) {
    if (this.recentlyStored.has(payload.id)) return;
    const set = this.byUser.get(userId);
    if (!set) return;
    for (const sink of set) {
      this.shownPending.get(sink)?.add(payload.id);
      sink.send(payload);
    }
  }

  /** A stored event one stream missed (its resume replay), reconciled like a live one. */
  replay(sink: StreamSink, payload: { id: string }, seq: number): Promise<void> {
    return sink.replay(this.unseen(sink, payload), seq);
  }

  /** The payload, or undefined when this stream showed the input already while it was pending. */
  private unseen(sink: StreamSink, payload: { id: string }) {
    return this.shownPending.get(sink)?.delete(payload.id) ? undefined : payload;
  }

  /** Every `heartbeatMs` while anyone listens; it must not keep a stopping process alive. */
  private armHeartbeat() {
    this.heartbeat = this.clock.setTimeout(() => {
      this.beat();
      this.armHeartbeat();
    }, this.heartbeatMs);
    unrefTimer(this.heartbeat);
  }

  private beat() {
    const payload = { type: 'heartbeat', timestamp: new Date(this.clock.wallNow()).toISOString() };
    for (const set of this.byUser.values()) for (const sink of set) sink.send(payload);
  }

  /** Sends `payload` to every open stream (for example the stream's own problems). */
  broadcast(payload: object) {
    for (const set of this.byUser.values()) for (const sink of set) sink.send(payload);
  }

  closeAll() {
    this.closed = true;
    for (const set of this.byUser.values()) for (const sink of set) sink.close();
  }
}
