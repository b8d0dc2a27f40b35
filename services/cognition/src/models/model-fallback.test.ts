import { ServiceTokenSigner } from '@cortex/network-client';
import { DEVELOPMENT_SECRETS } from '@cortex/service-kit';
import {
  type Behaviour,
  FakeClock,
  type MemoryApp,
  startFakeModelServer,
  startMemory,
  testDatabases,
} from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCognitionApp } from '../app';
import { loadCognitionEnv } from '../env';

const pglite = testDatabases().find((d) => d.name === 'pglite')!;
const TIMEOUT_MS = 5000;
const OPEN_MS = 60_000;

// Signed as the gateway signs its calls, with its development secret.
const gatewayTokens = new ServiceTokenSigner({
  issuer: 'gateway',
  secret: DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET,
});
const asGateway = async (audience: 'memory' | 'cognition') => ({
  authorization: `Bearer ${await gatewayTokens.token(audience)}`,
});

describe('the model chain over real sockets', () => {
  let memory: MemoryApp;
  let memoryUrl: string;
  let db: Awaited<ReturnType<typeof pglite.open>>;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    db = await pglite.open();
    ({ app: memory, url: memoryUrl } = await startMemory(db));
    for (const content of ['The release went great, thanks everyone.', 'Love the new dashboard.']) {
      await memory.inject({
        method: 'POST',
        url: '/tool/store_input',
        headers: await asGateway('memory'),
        payload: { user_id: 'alice', input_data: { content, conversation_id: 'c1' } },
      });
    }
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await memory?.close();
    await db?.close();
  });

  async function setup(backends: string, extra: Record<string, string> = {}) {
    const clock = new FakeClock(Date.now());
    const app = await buildCognitionApp({
      env: loadCognitionEnv({
        LOG_LEVEL: 'silent',
        MEMORY_SERVICE_URL: memoryUrl,
        MODEL_BACKENDS: backends,
        MODEL_TIMEOUT_MS: String(TIMEOUT_MS),
        MODEL_BREAKER_FAILURES: '2',
        MODEL_BREAKER_OPEN_MS: String(OPEN_MS),
        ...extra,
      }),
      clock,
    });
    cleanups.push(() => app.close());
    return { app, clock };
  }
  async function fakeModel(behaviour: Behaviour) {
    const server = await startFakeModelServer(behaviour);
    cleanups.push(() => server.close());
    return server;
  }
  const analyse = async (app: FastifyInstance, analysis_type = 'summary') => {
    const res = await app.inject({
      method: 'POST',
      url: '/tool/analyze_conversation',
      headers: await asGateway('cognition'),
      payload: { arguments: { user_id: 'alice', conversation_id: 'c1', analysis_type } },
    });
    expect(res.statusCode).toBe(200);
    return res.json().result;
  };

  it('answers from a good backend and names it', async () => {
    const model = await fakeModel('ok');
    const { app } = await setup(`good=openai:${model.url}|tiny-model|TEST_MODEL_KEY`, {
      TEST_MODEL_KEY: 'sk-test',
    });
    const summary = await analyse(app, 'summary');
    expect(summary).toMatchObject({
      backend: 'good',
      results: { summary: 'A remote summary.', key_points: ['remote point'] },
      message_count: 2,
    });
    expect(summary.failed_backends).toBeUndefined();
    expect(await analyse(app, 'topics')).toMatchObject({ results: { topics: [{ topic: 'remote topic' }] } });
    // Extra fields a model adds are dropped: the answer keeps the documented shape.
    expect((await analyse(app, 'sentiment')).results).toEqual({ label: 'positive', score: 0.9 });

    const [first] = model.requests;
    expect(first?.path).toBe('/v1/chat/completions');
    expect(first?.authorization).toBe('Bearer sk-test');
    expect(first?.body.model).toBe('tiny-model');
    expect(first?.body.messages?.[1]?.content).toMatch(/The release went great/);
  });

  it.each([
    ['error_500', 'server_error'],
    ['bad_json', 'data_error'],
    ['wrong_shape', 'data_error'],
  ] as const)('falls back to the local analyser when the backend answers %s', async (behaviour, code) => {
    const model = await fakeModel(behaviour);
    const { app } = await setup(`flaky=openai:${model.url}|m`);
    const result = await analyse(app, 'sentiment');
    expect(result).toMatchObject({
      backend: 'local',
      results: { label: 'positive' },
      failed_backends: [{ backend: 'flaky', error: code }],
    });
    expect(model.requests).toHaveLength(1);
  });

  it('falls back when the backend hangs past its timeout', async () => {
    const model = await fakeModel('hang');
    const { app, clock } = await setup(`slow=openai:${model.url}|m`);
    const pending = analyse(app, 'topics');
    await expect.poll(() => model.requests.length).toBe(1);
    clock.advance(TIMEOUT_MS + 10);
    expect(await pending).toMatchObject({
      backend: 'local',
      failed_backends: [{ backend: 'slow', error: 'timeout' }],
    });
  });

  it('opens the breaker after N failures: later calls do not reach the backend, until a probe is due', async () => {
    const model = await fakeModel('error_500');
    const { app, clock } = await setup(`flaky=openai:${model.url}|m`);
    await analyse(app);
    await analyse(app);
    expect(model.requests).toHaveLength(2);

    for (let i = 0; i < 3; i++) {
      expect(await analyse(app)).toMatchObject({
        backend: 'local',
        failed_backends: [{ backend: 'flaky', error: 'circuit_open' }],
      });
    }
    expect(model.requests).toHaveLength(2);
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json().dependencies.models).toEqual({
      status: 'warning',
      backends: { flaky: { kind: 'openai', state: 'open' }, local: { kind: 'local', state: 'available' } },
    });

    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/resilience_breaker_state\{[^}]*upstream="model:flaky"[^}]*\} 2/);
    expect(metrics).toMatch(
      /resilience_errors_total\{[^}]*upstream="model:flaky"[^}]*code="server_error"[^}]*\} 2/,
    );

    clock.advance(OPEN_MS);
    model.behaviour = 'ok';
    expect(await analyse(app)).toMatchObject({ backend: 'flaky' });
    expect(model.requests).toHaveLength(3);
    expect((await app.inject({ url: '/health' })).json().dependencies.models.status).toBe('healthy');
  });

  it('with the local analyser off, a task failing everywhere is answered degraded and recorded', async () => {
    const model = await fakeModel('error_500');
    const { app } = await setup(`only=openai:${model.url}|m`, { LOCAL_ANALYSER: 'off' });
    const result = await analyse(app, 'summary');
    expect(result).toEqual({
      type: 'summary',
      conversation_id: 'c1',
      results: { summary: '', key_points: [] },
      backend: null,
      message_count: 2,
      enrichment_error: 'all_backends_failed',
      failed_backends: [{ backend: 'only', error: 'server_error' }],
    });
    await analyse(app, 'summary');
    // Every backend's circuit open and no local analyser: nothing can answer, so out of rotation.
    const health = await app.inject({ url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({
      status: 'unhealthy',
      dependencies: { models: { status: 'unhealthy' } },
    });

    // Both failures reached the user's event feed by way of memory's record_failed_task.
    const rows = await db.query<{ task: string; error: string; backends_tried: string[]; details: object }>(
      "SELECT task, error, backends_tried, details FROM failed_tasks WHERE user_id = 'alice' ORDER BY seq",
    );
    expect(rows.rows).toHaveLength(2);
    expect(rows.rows[0]).toMatchObject({
      task: 'analyze_conversation',
      error: 'all_backends_failed',
      backends_tried: ['only'],
      details: { conversation_id: 'c1', analysis_type: 'summary' },
    });
  });
});
