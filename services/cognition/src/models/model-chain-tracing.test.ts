import { startTracing, type TracingHandle, withSpan } from '@cortex/telemetry';
import { type FakeModelServer, startFakeModelServer } from '@cortex/testing';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnalysisTask } from './analysis';
import { createBackendPolicy } from './backend-policy';
import { LocalAnalyser } from './local-analyser';
import { type ChainEntry, ModelChain } from './model-chain';
import { OpenAiBackend } from './openai-backend';

const exporter = new InMemorySpanExporter();
let handle: TracingHandle | undefined;
const servers: FakeModelServer[] = [];

beforeAll(async () => {
  handle = await startTracing(
    { enabled: false, exporters: [], serviceName: 'test', protocol: 'http/json', endpoint: undefined },
    { spanProcessors: [new SimpleSpanProcessor(exporter)] },
  );
});
afterAll(async () => {
  await handle?.shutdown();
  for (const s of servers) await s.close();
});

async function remote(name: string, behaviour: 'ok' | 'error_500'): Promise<ChainEntry> {
  const server = await startFakeModelServer(behaviour);
  servers.push(server);
  const backend = new OpenAiBackend(
    { name, kind: 'openai', baseUrl: server.url, model: `${name}-model` },
    { timeoutMs: 5000, maxInputChars: 10_000 },
  );
  const policy = createBackendPolicy({ timeoutMs: 5000, failureThreshold: 5, openMs: 60_000 }, { name });
  return { backend, policy, ...(policy.breaker ? { breaker: policy.breaker } : {}) };
}

const task: AnalysisTask = {
  type: 'topics',
  messages: [{ content: 'deploys and dashboards', timestamp: 'x' }],
};

it('makes a span per backend call and per attempt, in the caller’s trace, sending no traceparent', async () => {
  const chain = new ModelChain([
    await remote('down', 'error_500'),
    await remote('up', 'ok'),
    { backend: new LocalAnalyser() },
  ]);
  const outcome = await withSpan('request', {}, () => chain.run(task));
  expect(outcome).toMatchObject({ ok: true, backend: 'up' });
  await handle?.flush();
  const spans = exporter.getFinishedSpans();
  const named = (name: string) => spans.find((s) => s.name === name);
  const request = named('request');
  const [downCall, downAttempt, upCall, upAttempt] = [
    'down model topics',
    'down attempt',
    'up model topics',
    'up attempt',
  ].map(named);
  const traceId = request?.spanContext().traceId;
  for (const call of [downCall, upCall]) {
    expect(call?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(call?.spanContext().traceId).toBe(traceId);
    expect(call?.attributes['cortex.call.kind']).toBe('model');
    expect(call?.attributes['cortex.call.operation']).toBe('topics');
  }
  // The failed backend: its call and its attempt carry the error's code and an error status.
  expect(downCall?.attributes['cortex.upstream']).toBe('down');
  expect(downCall?.attributes['cortex.outcome']).toBe('server_error');
  expect(downCall?.status.code).toBe(2);
  expect(downAttempt?.parentSpanContext?.spanId).toBe(downCall?.spanContext().spanId);
  expect(downAttempt?.attributes).toMatchObject({
    'cortex.retry': 0,
    'cortex.circuit.state': 'closed',
    'cortex.outcome': 'server_error',
    'gen_ai.request.model': 'down-model',
  });
  // The one that answered.
  expect(upCall?.attributes['cortex.outcome']).toBe('ok');
  expect(upAttempt?.parentSpanContext?.spanId).toBe(upCall?.spanContext().spanId);
  expect(upAttempt?.attributes).toMatchObject({
    'cortex.upstream': 'up',
    'cortex.outcome': 'ok',
    'gen_ai.request.model': 'up-model',
    'server.address': new URL(servers[1]?.url ?? '').origin,
  });
  // The local analyser was not needed: no span for it.
  expect(named('local model topics')).toBeUndefined();
  // Neither backend was sent our trace context.
  expect(servers.flatMap((s) => s.requests).map((r) => r.traceparent)).toEqual([undefined, undefined]);
  await chain.close();
});
