import { createParser } from 'eventsource-parser';
import { request } from 'undici';

export interface ReceivedEvent {
  id: string | undefined;
  data: Record<string, unknown>;
}

/** A test's view of one SSE stream: every event kept, with a way to wait for the ones it expects. */
export class SseRecorder {
  readonly events: ReceivedEvent[] = [];
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  private readonly controller = new AbortController();
  private waiters: (() => void)[] = [];
  closed = false;
  /** The last `id:` received, id-only frames included: what a browser would resume from. */
  lastEventId: string | undefined;
  /** Every `id:` received, in order, id-only frames included. */
  readonly ids: string[] = [];

  static async open(url: string, headers: Record<string, string> = {}) {
    const r = new SseRecorder();
    await r.connect(url, headers);
    return r;
  }

  private async connect(url: string, headers: Record<string, string>) {
    const res = await request(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: this.controller.signal,
    });
    this.status = res.statusCode;
    this.headers = res.headers;
    if (res.statusCode !== 200) {
      this.events.push({ id: undefined, data: (await res.body.json()) as Record<string, unknown> });
      this.closed = true;
      return;
    }
    const parser = createParser({
      onEvent: (m) => {
        this.events.push({ id: m.id, data: JSON.parse(m.data) });
        for (const w of this.waiters.splice(0)) w();
      },
      onId: (id) => {
        this.ids.push(id);
        this.lastEventId = id;
        for (const w of this.waiters.splice(0)) w();
      },
    });
    void (async () => {
      try {
        for await (const chunk of res.body) parser.feed(chunk.toString());
      } catch {}
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    })();
  }

  /** Ids that came in frames without data: the gateway's id-only frames for inputs shown while pending. */
  get bareIds() {
    const withData = new Set(this.events.map((e) => e.id));
    return this.ids.filter((id) => !withData.has(id));
  }

  ofType(type: string) {
    return this.events.filter((e) => e.data.type === type);
  }

  /** Waits until `predicate` holds over the events so far, or fails after `timeoutMs`. */
  async waitFor(predicate: (events: ReceivedEvent[]) => boolean, timeoutMs = 10_000, what = 'events') {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.events.map((e) => e.data.type))}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close() {
    this.controller.abort();
  }
}
