import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export interface StreamSink {
  readonly id: string;
  readonly userId: string;
  /** Writes one event; returns false when the connection was cut off instead. */
  send(payload: object, eventId?: string): boolean;
  close(): void;
}

/**
 * One browser's stream. Frames are written straight to the socket rather than through the SSE
 * plugin's awaited `send()`: a backed-up socket that closes without `drain` can never wedge us
 * (@fastify/sse issue #54), and the unread backlog is bounded. A client past the bound gets an
 * `error` event and is closed; it reconnects with Last-Event-ID and loses nothing.
 */
export class SseConnection implements StreamSink {
  readonly id = randomUUID();
  private closed = false;

  constructor(
    private readonly raw: ServerResponse,
    readonly userId: string,
    private readonly maxBufferedBytes: number,
  ) {
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

  send(payload: object, eventId?: string): boolean {
    if (!this.isOpen) return false;
    if (this.raw.writableLength > this.maxBufferedBytes) {
      this.raw.write(
        `data: ${JSON.stringify({ type: 'error', message: 'Stream fell too far behind; reconnect to resume', timestamp: new Date().toISOString() })}\n\n`,
      );
      this.close();
      return false;
    }
    this.raw.write(`${eventId === undefined ? '' : `id: ${eventId}\n`}data: ${JSON.stringify(payload)}\n\n`);
    return true;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.raw.end();
  }
}
