import { CortexError } from '@cortex/errors';
import { BackoffLoop, createServicePolicy, inCallScope, withFallback } from '@cortex/resilience';
import { FakeClock } from '@cortex/testing';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { resilienceLog } from './resilience-log';

type Line = { level: string; fields: Record<string, unknown>; message: string };

function capture() {
  const lines: Line[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, fields, message });
  const log = { info: at('info'), warn: at('warn'), error: at('error') } as unknown as FastifyBaseLogger;
  return { log, lines };
}

describe('resilienceLog', () => {
  it('logs retries, transitions, failed calls and fallbacks with their fields and request id', async () => {
    const clock = new FakeClock();
    const { log, lines } = capture();
    const listener = resilienceLog(log, 'memory', { clock });
    const policy = createServicePolicy(
      {
        timeoutMs: 0,
        retry: { maxRetries: 1, baseDelayMs: 0, maxDelayMs: 0, jitter: 'none', budget: { enabled: false } },
        breaker: { failureThreshold: 2, openMs: 1_000 },
      },
      { name: 'memory', clock, onEvent: listener },
    );
    const fallback = withFallback(undefined, { value: 'cached' });
    fallback.events.on(listener);
    const down = () => Promise.reject(new CortexError('connection', 'refused'));
    await inCallScope({ requestId: 'req-42', kind: 'tool', operation: 'store_input' }, async () => {
      await fallback.execute(() => policy.execute(down));
    });
    const by = (event: string) => lines.filter((l) => l.fields.event === event);
    expect(by('retry')[0]).toMatchObject({
      level: 'warn',
      fields: { upstream: 'memory', request_id: 'req-42', attempt: 1, delay_ms: 0, error_code: 'connection' },
    });
    expect(by('circuit_transition')[0]).toMatchObject({
      level: 'error',
      fields: {
        upstream: 'memory',
        circuit: 'memory',
        from: 'closed',
        to: 'open',
        failures: 2,
        request_id: 'req-42',
      },
    });
    expect(by('tool_failed')[0]).toMatchObject({
      fields: { service: 'memory', tool: 'store_input', error_type: 'connection', request_id: 'req-42' },
    });
    expect(typeof by('tool_failed')[0]?.fields.elapsed_ms).toBe('number');
    expect(by('fallback')[0]).toMatchObject({
      fields: { upstream: 'memory', source: 'value', error_code: 'connection', request_id: 'req-42' },
    });
    // A call outside any request still says whose it is not: request_id null, never missing.
    await inCallScope({ kind: 'stream', operation: 'events' }, () => policy.execute(down)).catch(() => {});
    expect(by('stream_failed')[0]).toMatchObject({
      fields: { request_id: null, resource: 'events', error_type: 'circuit_open' },
    });
  });

  it('says how many lines it left out once the window ends', async () => {
    const clock = new FakeClock();
    const { log, lines } = capture();
    const listener = resilienceLog(log, 'cognition', { clock, perWindow: 2, windowMs: 1_000 });
    for (let i = 0; i < 50; i++) listener({ type: 'retry', attempt: 1, delayMs: 5, reason: 'timeout' });
    expect(lines).toHaveLength(2);
    clock.advance(1_000);
    expect(lines.at(-1)).toMatchObject({
      level: 'warn',
      fields: { upstream: 'cognition', event: 'retry', suppressed: 48 },
    });
  });

  it("logs a background loop's retries and its recovery, with no request id", async () => {
    const clock = new FakeClock();
    const { log, lines } = capture();
    const loop = new BackoffLoop({
      name: 'feed.follow',
      backoff: { baseDelayMs: 100, maxDelayMs: 1_000, jitter: 'none' },
      clock,
    });
    loop.events.on(resilienceLog(log, 'memory', { clock }));
    let calls = 0;
    const done = loop.run(async () => {
      if (++calls < 3) throw new CortexError('connection', 'refused');
    });
    await clock.advanceAsync(300);
    await done;
    const by = (event: string) => lines.filter((l) => l.fields.event === event);
    expect(by('background_retry').map((l) => [l.level, l.fields.attempt, l.fields.delay_ms])).toEqual([
      ['warn', 1, 100],
      ['warn', 2, 200],
    ]);
    expect(by('background_retry')[0]?.fields).toMatchObject({
      upstream: 'memory',
      loop: 'feed.follow',
      error_code: 'connection',
      request_id: null,
    });
    expect(by('background_recovered')).toEqual([
      expect.objectContaining({
        level: 'info',
        fields: expect.objectContaining({ loop: 'feed.follow', failures: 2 }),
      }),
    ]);
  });
});
