import {
  type FakeModelServer,
  http,
  OtlpReceiver,
  type ReceivedSpan,
  startFakeModelServer,
  tokenFor,
} from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseRecorder } from './harness/sse-client';
import { primaryMode, System } from './harness/system';
import { waitUntil } from './harness/wait';

const database = primaryMode();

/** The gateway's server span of the one `POST /input` answered with `item_id`. */
function inputSpan(receiver: OtlpReceiver, requestId: string): ReceivedSpan | undefined {
  return receiver.spans.find(
    (s) => s.service === 'gateway' && s.kind === 2 && s.attributes['cortex.request_id'] === requestId,
  );
}

const isStatement = (s: ReceivedSpan) =>
  s.attributes['db.system.name'] === 'postgresql' || s.attributes['db.system'] === 'postgresql';

/** Every span's parent has arrived too (services export in batches, each on its own schedule). */
function complete(spans: ReceivedSpan[]): boolean {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.every((s) => s.parentSpanId === '' || ids.has(s.parentSpanId));
}

/** A trace that reached memory's tool and its database statement, all of it exported. */
const reachesMemory = (spans: ReceivedSpan[]) =>
  complete(spans) &&
  spans.some((s) => s.service === 'memory' && isStatement(s)) &&
  spans.some((s) => s.service === 'memory' && s.attributes['url.path'] === '/tool/store_input');

describe(`tracing across the services (${database})`, () => {
  let receiver: OtlpReceiver;
  let system: System;
  let model: FakeModelServer;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    model = await startFakeModelServer();
    const otel = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Export within a fraction of a second instead of the default 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    system = await System.start({
      database,
      env: {
        gateway: otel,
        memory: otel,
        cognition: { ...otel, MODEL_BACKENDS: `fake=openai:${model.url}|fake-model` },
      },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await receiver?.close();
    await model?.close();
  });

  it("never exports a stream's query token: the request span's url.path is the path alone", async () => {
    const secret = 'eyJhbGciOiJIUzI1NiJ9.not-a-real-token.sig';
    const answer = await http('GET', `${system.gateway.url}/output/stream?token=${secret}`, {
      headers: { 'x-request-id': 'traced-stream-token' },
    });
    expect(answer.status).toBe(401);
    const { value: span } = await waitUntil('the refused stream request span', () =>
      receiver.spans.find(
        (s) => s.service === 'gateway' && s.attributes['cortex.request_id'] === 'traced-stream-token',
      ),
    );
    expect(span.attributes['url.path']).toBe('/output/stream');
    expect(JSON.stringify(receiver.spans)).not.toContain('not-a-real-token');
  });

  it('one POST /input is one trace through gateway, memory and the database statement', async () => {
    const token = await tokenFor('traced');
    const answer = await http('POST', `${system.gateway.url}/input`, {
      token,
      body: { content: 'traced input' },
      headers: { 'x-request-id': 'traced-input-1' },
    });
    expect(answer.body.status).toBe('received');
    const { value: trace } = await waitUntil('the input trace with its database statement', () => {
      const root = inputSpan(receiver, 'traced-input-1');
      if (!root) return undefined;
      const spans = receiver.trace(root.traceId);
      return complete(spans) && spans.some((s) => s.service === 'memory' && isStatement(s))
        ? spans
        : undefined;
    });
    const root = inputSpan(receiver, 'traced-input-1') as ReceivedSpan;
    expect(root.parentSpanId).toBe('');
    expect(root.attributes['http.route']).toBe('/input');
    // One tree: every span of the trace hangs from another span of it, up to the gateway's.
    const ids = new Set(trace.map((s) => s.spanId));
    for (const s of trace)
      if (s !== root) expect(ids.has(s.parentSpanId), `${s.service} ${s.name}`).toBe(true);
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(['gateway', 'memory']));

    const call = trace.find((s) => s.service === 'gateway' && s.name === 'memory tool store_input');
    expect(call?.kind).toBe(3); // client
    const attempt = trace.find((s) => s.name === 'memory attempt' && s.parentSpanId === call?.spanId);
    expect(attempt?.attributes).toMatchObject({
      'cortex.upstream': 'memory',
      'cortex.retry': 0,
      'cortex.circuit.state': 'closed',
      'cortex.outcome': 'ok',
    });
    expect(attempt?.attributes['cortex.deadline_left_ms']).toBeGreaterThan(0);
    // memory's request span is the child of the attempt that reached it (traceparent on the wire).
    const served = trace.find((s) => s.service === 'memory' && s.kind === 2);
    expect(served?.attributes['url.path']).toBe('/tool/store_input');
    expect(served?.parentSpanId).toBe(attempt?.spanId);
    // memory's group commit names its batch size and links to the request span(s) it served.
    const batch = trace.find((s) => s.service === 'memory' && s.name === 'group commit');
    expect(batch?.attributes['cortex.batch.size']).toBeGreaterThanOrEqual(1);
    expect(batch?.links.some((l) => l.traceId === root.traceId && ids.has(l.spanId))).toBe(true);
    const statements = trace.filter((s) => s.service === 'memory' && isStatement(s));
    expect(statements.some((s) => s.parentSpanId === batch?.spanId)).toBe(true);
    expect(receiver.contentTypes).toEqual(new Set(['application/json']));
    // Log lines written for the request carry its trace and span ids: all but Fastify's first,
    // written before any hook has run.
    const logged = system.gateway.logs
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { request_id?: string; trace_id?: string; span_id?: string; msg?: string })
      .filter((l) => l.request_id === 'traced-input-1' && l.msg !== 'incoming request');
    expect(logged.map((l) => l.msg)).toContain('request completed');
    for (const l of logged) {
      expect(l.trace_id).toBe(root.traceId);
      expect(ids.has(l.span_id ?? '')).toBe(true);
    }
  });

  it("the gateway's delivery of a stored input to a stream links to the request that stored it", async () => {
    const token = await tokenFor('traced-feed');
    const stream = await SseRecorder.open(`${system.gateway.url}/output/stream?token=${token}`);
    try {
      await stream.waitFor((e) => e.some((x) => x.data.type === 'connection_established'));
      const answer = await http('POST', `${system.gateway.url}/input`, {
        token,
        body: { content: 'traced through the feed' },
        headers: { 'x-request-id': 'traced-feed-1' },
      });
      expect(answer.body.status).toBe('received');
      await stream.waitFor((e) => e.some((x) => x.data.id === answer.body.item_id), 10_000, 'the input');
      // The trace context travels on memory's feed to the gateways only, never to a user's stream.
      expect(JSON.stringify(stream.events)).not.toContain('traceparent');
      const { value: trace } = await waitUntil('the storing trace', () => {
        const root = inputSpan(receiver, 'traced-feed-1');
        const spans = root ? receiver.trace(root.traceId) : [];
        return reachesMemory(spans) && spans.some((s) => s.name === 'group commit' && s.service === 'memory')
          ? spans
          : undefined;
      });
      const root = inputSpan(receiver, 'traced-feed-1') as ReceivedSpan;
      const { value: deliver } = await waitUntil('the feed delivery span', () =>
        receiver.spans.find(
          (s) => s.name === 'feed deliver' && s.links.some((l) => l.traceId === root.traceId),
        ),
      );
      expect(deliver.service).toBe('gateway');
      expect(deliver.kind).toBe(5); // consumer
      // A trace of its own (asynchronous fan-out), linked to the storing request's span.
      expect(deliver.parentSpanId).toBe('');
      expect(deliver.traceId).not.toBe(root.traceId);
      expect(deliver.links).toHaveLength(1);
      expect(deliver.attributes).toMatchObject({ 'cortex.feed.type': 'input', 'cortex.streams': 1 });
      expect(deliver.attributes['cortex.feed.seq']).toBeGreaterThan(0);
      // The span it names is memory's, for the storing request: the one memory's batch links to.
      const linked = trace.find((s) => s.spanId === deliver.links[0]?.spanId);
      expect(linked?.service).toBe('memory');
      const batch = trace.find((s) => s.service === 'memory' && s.name === 'group commit');
      expect(batch?.links.map((l) => l.spanId)).toContain(linked?.spanId);
    } finally {
      stream.close();
    }
  });

  it("cognition's call to a model backend is a span of the request's trace, with its attempt", async () => {
    const token = await tokenFor('traced');
    const stored = await http('POST', `${system.gateway.url}/input`, {
      token,
      body: { content: 'The release went great, thanks everyone.', conversation_id: 'traced-conv' },
    });
    expect(stored.body.status).toBe('received');
    const before = model.requests.length;
    const answer = await http('GET', `${system.gateway.url}/analysis/traced-conv?type=summary`, {
      token,
      headers: { 'x-request-id': 'traced-analysis' },
    });
    expect(answer.status).toBe(200);
    expect(model.requests.length).toBe(before + 1);
    const { value: trace } = await waitUntil('the analysis trace with its model call', () => {
      const root = inputSpan(receiver, 'traced-analysis');
      const spans = root ? receiver.trace(root.traceId) : [];
      return complete(spans) && spans.some((s) => s.name === 'fake attempt') ? spans : undefined;
    });
    const call = trace.find((s) => s.service === 'cognition' && s.name === 'fake model summary');
    expect(call?.kind).toBe(3); // client
    expect(call?.attributes).toMatchObject({
      'cortex.upstream': 'fake',
      'cortex.call.kind': 'model',
      'cortex.call.operation': 'summary',
      'cortex.outcome': 'ok',
    });
    const attempt = trace.find((s) => s.name === 'fake attempt' && s.parentSpanId === call?.spanId);
    expect(attempt?.attributes).toMatchObject({
      'cortex.upstream': 'fake',
      'cortex.retry': 0,
      'cortex.circuit.state': 'closed',
      'cortex.outcome': 'ok',
      'gen_ai.request.model': 'fake-model',
      'server.address': new URL(model.url).origin,
    });
    // Under cognition's request span, itself under the gateway's call: one tree.
    const served = trace.find((s) => s.service === 'cognition' && s.kind === 2);
    expect(served?.attributes['url.path']).toBe('/tool/analyze_conversation');
    const ids = new Set(trace.map((s) => s.spanId));
    expect(ids.has(call?.parentSpanId ?? '')).toBe(true);
    // The backend is sent no trace context (docs/tracing.md: a backend may be a third party).
    expect(model.requests.at(-1)?.traceparent).toBeUndefined();
  });

  it("a replayed input's trace links to the request that journalled it", async () => {
    const token = await tokenFor('traced');
    expect(await system.memory.stop()).toBe(0);
    const answer = await http('POST', `${system.gateway.url}/input`, {
      token,
      body: { content: 'journalled while memory is down' },
      headers: { 'x-request-id': 'traced-journalled' },
    });
    expect(answer.body.status).toBe('received_storage_pending');
    const { value: journalled } = await waitUntil('the journalling request span', () =>
      inputSpan(receiver, 'traced-journalled'),
    );
    await system.memory.start();
    // Attempts made while memory's circuit was still open are replays too (failed ones): the one
    // that stored the input is the one whose trace reaches memory's database statement.
    const { value: replay } = await waitUntil('the replay that stored the input', () =>
      receiver.spans.find(
        (s) =>
          s.name === 'replay pending input' &&
          s.attributes['cortex.item_id'] === answer.body.item_id &&
          reachesMemory(receiver.trace(s.traceId)),
      ),
    );
    expect(replay.service).toBe('gateway');
    // A trace of its own (the journalling request was answered long before), linked to it.
    expect(replay.parentSpanId).toBe('');
    expect(replay.traceId).not.toBe(journalled.traceId);
    const journalledSpans = new Set(receiver.trace(journalled.traceId).map((s) => s.spanId));
    expect(replay.links).toHaveLength(1);
    expect(replay.links[0]?.traceId).toBe(journalled.traceId);
    expect(journalledSpans.has(replay.links[0]?.spanId ?? '')).toBe(true);
    const replayed = receiver.trace(replay.traceId);
    expect(
      replayed.some((s) => s.service === 'memory' && s.attributes['url.path'] === '/tool/store_input'),
    ).toBe(true);
  });
});
