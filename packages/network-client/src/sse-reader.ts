import type { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** Turns a byte stream of Server-Sent Events into messages, one at a time. */
export async function* readSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (m) => pending.push(m) });
  const decoder = new TextDecoder();
  // A reader that stops early (a finite resource's end marker) would otherwise have Node destroy the
  // stream with a fresh AbortError, whose stack trace (source-mapped under tsx) was a tenth of the
  // gateway's CPU on GET /history. The caller ends the request itself (service-client's finally).
  const source =
    typeof (body as Readable).iterator === 'function'
      ? (body as Readable).iterator({ destroyOnReturn: false })
      : body;
  for await (const chunk of source) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (pending.length > 0) yield pending.shift() as EventSourceMessage;
  }
}
