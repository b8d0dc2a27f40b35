import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceClient } from '@cortex/network-client';
import { closedPortUrl } from '@cortex/testing';
import type { FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// Memory's own argument schema: what cognition sends must be what memory accepts.
import { recordFailedTask as memoryTool } from '../../../memory/src/tools/task-tools';
import { type FailedTask, reportFailedTask } from './failure-recorder';

const task: FailedTask = {
  user_id: 'alice',
  task: 'analyze_conversation',
  error: 'all_backends_failed',
  failed: [
    { backend: 'gpt', error: 'timeout' },
    { backend: 'local', error: 'unknown' },
  ],
  duration_ms: 12.6,
  details: { conversation_id: 'c1', analysis_type: 'topics' },
};

describe('reportFailedTask', () => {
  let server: Server;
  let url: string;
  let status = 200;
  const received: unknown[] = [];

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      received.push({ path: req.url, args: body.arguments });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status === 200 ? { result: { status: 'recorded' } } : { error: { code: 'x' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const logger = () =>
    ({ warn: vi.fn() }) as unknown as FastifyBaseLogger & { warn: ReturnType<typeof vi.fn> };

  it('sends record_failed_task with arguments memory accepts', async () => {
    const memory = new ServiceClient({ service: 'memory', urls: url });
    const log = logger();
    expect(await reportFailedTask(memory, task, { log, requestId: 'r1' })).toBe(true);
    await memory.close();
    const [call] = received as { path: string; args: unknown }[];
    expect(call?.path).toBe('/tool/record_failed_task');
    expect(memoryTool.args.parse(call?.args)).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user_id: 'alice',
      task: 'analyze_conversation',
      error: 'all_backends_failed',
      backends_tried: ['gpt', 'local'],
      duration_ms: 13,
      details: { conversation_id: 'c1', analysis_type: 'topics', failures: task.failed },
    });
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('logs and swallows a failure to record: memory erroring or away', async () => {
    status = 500;
    const memory = new ServiceClient({ service: 'memory', urls: url });
    const log = logger();
    expect(await reportFailedTask(memory, task, { log, requestId: 'r2' })).toBe(false);
    await memory.close();
    const away = new ServiceClient({ service: 'memory', urls: await closedPortUrl() });
    expect(await reportFailedTask(away, task, { log, requestId: 'r3' })).toBe(false);
    await away.close();
    expect(log.warn).toHaveBeenCalledTimes(2);
  });

  it('gives the same failure, seen again with the same request id, the same record id', async () => {
    const memory = new ServiceClient({ service: 'memory', urls: url });
    const log = logger();
    received.length = 0;
    await reportFailedTask(memory, task, { log, requestId: 'retried' });
    await reportFailedTask(memory, task, { log, requestId: 'retried' });
    await reportFailedTask(memory, task, { log, requestId: 'another request' });
    await memory.close();
    const ids = (received as { args: { id: string } }[]).map((r) => r.args.id);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });
});
