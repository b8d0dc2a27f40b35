import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export interface StreamSink {
  readonly id: string;
  readonly userId: string;
  /**
   * A stored event with its feed position; skipped when this stream already has it. Without a
   * payload (the stream showed it while pending) only the position moves.
   */
  sendStored(payload: { id: string } | undefined, seq: number): void;
  /** A stored event this stream missed, during its resume replay (see `SseConnection.replay`). */
  replay(payload: { id: string } | undefined, seq: number): Promise<void>;
  /** Anything without a position (pending inputs, heartbeats, errors). */
  send(payload: object): void;
  close(): void;
}

const MAX_BUFFERED_EVENTS = 10_000;

/**
 * One browser's stream. Frames are written straight to the socket rather than through the SSE
 * plugin's awaited `send()`: a backed-up socket that closes without `drain` can never wedge us
 * (@fastify/sse issue #54), and the unread backlog is bounded. A client past the bound gets an
 * `error` event and is closed; it reconnects with Last-Event-ID and loses nothing.
 */
export class SseConnection implements StreamSink {
  readonly id = randomUUID();
  private closed = false;
  /** Highest feed seq this stream has delivered: the resume position the client holds. */
  lastSeq: number;
  /** While replaying missed events, live ones wait here so order is kept. */
  private buffer: { payload: { id: string } | undefined; seq: number }[] | undefined;

  constructor(
    private readonly raw: ServerResponse,
    readonly userId: string,
    private readonly maxBufferedBytes: number,
    resumeFrom?: number,
  ) {
    this.lastSeq = resumeFrom ?? 0;
    if (resumeFrom !== undefined) this.buffer = [];
    raw.once('close', () => {
      this.closed = true;
    });
  }

  get isOpen() {
    return !this.closed && !this.raw.destroyed;
  }

  writeRaw(frame: string) {
    if (this.isOpen) this.raw.write(frame);
  }

  send(payload: object) {
    this.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  sendStored(payload: { id: string } | undefined, seq: number) {
    if (this.buffer) {
      if (this.buffer.length >= MAX_BUFFERED_EVENTS) return this.overflow();
      this.buffer.push({ payload, seq });
      return;
    }
    const frame = this.storedFrame(payload, seq);
    if (frame !== undefined) this.write(frame);
  }

  /**
   * A missed event, during the replay: written at once (in order, not held like live ones), then
   * waits while the client is behind, so a long replay streams instead of piling up here.
   */
  async replay(payload: { id: string } | undefined, seq: number): Promise<void> {
    const frame = this.storedFrame(payload, seq);
    if (frame === undefined || !this.isOpen) return;
    await this.paced(frame);
  }

  /**
   * Writes a frame; when the client has more than half of this stream's bound unread (or the
   * socket asks to stop), waits until that frame has reached the socket. The pace is set by our
   * own bound, not the socket's high-water mark: that is a Node default (16 KiB up to Node 20,
   * 64 KiB since 22), and a replay paced by it left more unread than `write` tolerates, so the
   * first live event after the replay cut the stream off as "too far behind".
   */
  private async paced(frame: string): Promise<void> {
    let flushed = false;
    let onFlushed: (() => void) | undefined;
    const below = this.raw.write(frame, () => {
      flushed = true;
      onFlushed?.();
    });
    if ((below && this.raw.writableLength <= this.maxBufferedBytes / 2) || flushed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.raw.off('close', done);
        resolve();
      };
      onFlushed = done;
      this.raw.on('close', done);
    });
  }

  /** The frame for a stored event, or undefined when this stream already has it. */
  private storedFrame(payload: { id: string } | undefined, seq: number): string | undefined {
    if (seq <= this.lastSeq) return undefined;
    this.lastSeq = seq;
    // Seen already while pending: an id-only frame moves the client's Last-Event-ID without
    // dispatching an event (SSE ignores frames without data), so a resume will not repeat it.
    if (payload === undefined) return `id: ${seq}\n\n`;
    return `id: ${seq}\ndata: ${JSON.stringify(payload)}\n\n`;
  }

  /**
   * Replay is done: deliver what arrived meanwhile, in order and paced like the replay (a long
   * replay can gather more live events than the client's bound), then go live.
   */
  async endReplay(): Promise<void> {
    while (this.buffer !== undefined && this.buffer.length > 0 && this.isOpen) {
      const batch = this.buffer.splice(0).sort((a, b) => a.seq - b.seq);
      for (const b of batch) await this.replay(b.payload, b.seq);
    }
    this.buffer = undefined;
  }

  private write(frame: string) {
    if (!this.isOpen) return;
    if (this.raw.writableLength > this.maxBufferedBytes) return this.overflow();
    this.raw.write(frame);
  }

  private overflow() {
    if (!this.isOpen) return;
    this.raw.write(
      `data: ${JSON.stringify({ type: 'error', message: 'Stream fell too far behind; reconnect to resume', timestamp: new Date().toISOString() })}\n\n`,
    );
    this.close();
  }

  /** Ends the stream with an `error` event the client can show; it will reconnect by itself. */
  fail(message: string, code?: string) {
    this.send({ type: 'error', ...(code ? { code } : {}), message, timestamp: new Date().toISOString() });
    this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    // The socket goes with the stream: left idle in keep-alive, it would hold a shutdown up until
    // the client dropped it (a client reconnects on a fresh connection anyway).
    const socket = this.raw.socket; // detached from the response once it has finished
    this.raw.end(() => socket?.end());
  }
}
