import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** Turns a byte stream of Server-Sent Events into messages, one at a time. */
export async function* readSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (m) => pending.push(m) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (pending.length > 0) yield pending.shift() as EventSourceMessage;
  }
}
