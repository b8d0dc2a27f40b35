import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the fake answers: well, or in each of the ways a real backend goes wrong. */
export type Behaviour = 'ok' | 'error_500' | 'hang' | 'bad_json' | 'wrong_shape';

interface RecordedRequest {
  path: string;
  authorization: string | undefined;
  /** The W3C trace context header, if the caller sent one (cognition does not: docs/tracing.md). */
  traceparent: string | undefined;
  body: { model?: string; messages?: { role: string; content: string }[] };
}

export interface FakeModelServer {
  /** The base URL to put in MODEL_BACKENDS (`…/v1`). */
  url: string;
  requests: RecordedRequest[];
  behaviour: Behaviour;
  close(): Promise<void>;
}

/** The answer a good model gives, by the shape the system prompt asks for. */
function goodReply(system: string): unknown {
  if (system.includes('"label"'))
    return { label: 'positive', score: 0.9, reasoning: 'extra fields are dropped' };
  if (system.includes('"topics"')) return { topics: [{ topic: 'remote topic', weight: 1 }] };
  return { summary: 'A remote summary.', key_points: ['remote point'] };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An OpenAI-compatible chat completions server on 127.0.0.1, port 0, for tests. */
export async function startFakeModelServer(behaviour: Behaviour = 'ok'): Promise<FakeModelServer> {
  const sockets = new Set<Socket>();
  const state: FakeModelServer = {
    url: '',
    requests: [],
    behaviour,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const body = JSON.parse(raw) as RecordedRequest['body'];
    state.requests.push({
      path: req.url ?? '',
      authorization: req.headers.authorization,
      traceparent: req.headers.traceparent as string | undefined,
      body,
    });
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    switch (state.behaviour) {
      case 'hang':
        return; // never answers; the caller's timeout must end it
      case 'error_500':
        return json(500, { error: { message: 'model crashed' } });
      case 'bad_json':
        return json(200, '{"choices": [');
      case 'wrong_shape':
        return json(200, {
          choices: [{ message: { role: 'assistant', content: '{"verdict": "dunno"}' } }],
        });
      case 'ok': {
        const system = body.messages?.find((m) => m.role === 'system')?.content ?? '';
        const content = `Here you go:\n\`\`\`json\n${JSON.stringify(goodReply(system))}\n\`\`\``;
        return json(200, { choices: [{ index: 0, message: { role: 'assistant', content } }] });
      }
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}
