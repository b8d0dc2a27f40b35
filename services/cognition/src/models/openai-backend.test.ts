import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiBackend, transcript } from './openai-backend';

const task = { type: 'summary' as const, messages: [{ content: 'hello', timestamp: 't0' }] };

describe('transcript', () => {
  it('keeps the newest messages that fit, oldest first, one per line', () => {
    const messages = ['first message', 'second\nmessage', 'third message'].map((content, i) => ({
      content,
      timestamp: `t${i}`,
    }));
    expect(transcript(messages, 1000)).toBe('[t0] first message\n[t1] second message\n[t2] third message');
    expect(transcript(messages, 40)).toBe('[t1] second message\n[t2] third message');
    expect(transcript(messages, 30)).toBe('[t2] third message');
    expect(transcript(messages, 12)).toBe('[t2] third…');
  });
});

describe('OpenAiBackend', () => {
  let server: Server;
  let base: string;
  let reply: { status: number; body: string } = { status: 200, body: '' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const backend = () =>
    new OpenAiBackend(
      { name: 'b', kind: 'openai', baseUrl: base, model: 'm' },
      { timeoutMs: 5000, maxInputChars: 1000 },
    );

  it.each([
    ['401', 401, '{"error": "bad key"}', 'client_error'],
    ['429', 429, '{}', 'rate_limited'],
    ['503', 503, 'down', 'service_unavailable'],
    ['502', 502, 'down', 'server_error'],
    ['no choices', 200, JSON.stringify({ choices: [] }), 'data_error'],
    [
      'prose only',
      200,
      JSON.stringify({ choices: [{ message: { content: 'no json here' } }] }),
      'data_error',
    ],
    [
      'wrong type',
      200,
      JSON.stringify({ choices: [{ message: { content: '{"summary": 42}' } }] }),
      'data_error',
    ],
    ['over 1 MiB', 200, `{"choices": [${'{"message": {"content": "x"}},'.repeat(40_000)}]}`, 'data_error'],
  ])('turns an answer "%s" into an error', async (_label, status, body, code) => {
    reply = { status, body };
    const b = backend();
    await expect(b.analyse(task, undefined)).rejects.toMatchObject({ code });
    await b.close();
  });

  it('parses a reply wrapped in prose', async () => {
    const content = 'Sure! {"summary": "Hi.", "key_points": ["Hi."], "mood": "ok"} Hope this helps.';
    reply = { status: 200, body: JSON.stringify({ choices: [{ message: { content } }] }) };
    const b = backend();
    expect(await b.analyse(task, undefined)).toEqual({ summary: 'Hi.', key_points: ['Hi.'] });
    await b.close();
  });
});
