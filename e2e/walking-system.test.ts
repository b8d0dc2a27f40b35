import { http, postDeclaringLength, signToken, tokenFor } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseRecorder } from './harness/sse-client';
import { databaseModes, System } from './harness/system';
import { waitUntil } from './harness/wait';

describe.each(databaseModes())('the walking system on %s', (database) => {
  let system: System;
  let gw: string;

  beforeAll(async () => {
    system = await System.start({ database });
    gw = system.gateway.url;
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('stores input, streams it to its user only, and reads it back', async () => {
    const alice = await tokenFor('alice-walk');
    const bob = await tokenFor('bob-walk');
    const aliceStream = await SseRecorder.open(`${gw}/output/stream?token=${alice}`);
    const bobStream = await SseRecorder.open(`${gw}/output/stream`, { authorization: `Bearer ${bob}` });
    expect(aliceStream.status).toBe(200);
    expect(aliceStream.headers['content-type']).toContain('text/event-stream');
    expect(aliceStream.headers['cache-control']).toBe('no-cache, no-transform');
    await aliceStream.waitFor((e) => e.some((x) => x.data.type === 'connection_established'));
    await bobStream.waitFor((e) => e.some((x) => x.data.type === 'connection_established'));
    expect(aliceStream.events[0]?.data).toMatchObject({
      type: 'connection_established',
      user_id: 'alice-walk',
    });

    const posted = await http('POST', `${gw}/input`, {
      token: alice,
      body: { content: 'hello from alice', conversation_id: 'conv-a', metadata: { source: 'e2e' } },
    });
    expect(posted.status).toBe(200);
    expect(posted.body).toMatchObject({
      status: 'received',
      data: { content: 'hello from alice', conversation_id: 'conv-a', metadata: { source: 'e2e' } },
    });
    const itemId = posted.body.item_id as string;

    await aliceStream.waitFor((e) => e.some((x) => x.data.type === 'input'), 10_000, 'the input event');
    const event = aliceStream.ofType('input')[0];
    expect(event?.data).toMatchObject({
      type: 'input',
      id: itemId,
      user_id: 'alice-walk',
      data: { content: 'hello from alice', conversation_id: 'conv-a', metadata: { source: 'e2e' } },
    });
    expect(Number(event?.id)).toBeGreaterThan(0);

    const history = await http('GET', `${gw}/history?limit=10`, { token: alice });
    expect(history.status).toBe(200);
    expect(history.body.count).toBe(1);
    expect(history.body.items[0]).toEqual({
      id: itemId,
      conversation_id: 'conv-a',
      content: 'hello from alice',
      timestamp: posted.body.data.timestamp,
      metadata: { source: 'e2e' },
    });
    const context = await http('GET', `${gw}/context?query=alice`, { token: alice });
    expect(context.status).toBe(200);
    expect(context.body).toMatchObject({ user_id: 'alice-walk', query: 'alice', count: 1 });
    expect(context.body.context[0].id).toBe(itemId);

    const search = await http('GET', `${gw}/search?query=alice`, { token: alice });
    expect(search.status).toBe(200);
    expect(search.body).toMatchObject({ query: 'alice', count: 1 });
    expect(search.body.results[0].id).toBe(itemId);
    const analysis = await http('GET', `${gw}/analysis/conv-a?type=topics`, { token: alice });
    expect(analysis.status).toBe(200);
    expect(analysis.body).toMatchObject({ type: 'topics', conversation_id: 'conv-a', backend: 'local' });
    // Another user's view of the same conversation is empty: analyses are scoped to the caller.
    const bobsView = await http('GET', `${gw}/analysis/conv-a?type=summary`, { token: bob });
    expect(bobsView.status).toBe(200);
    expect(bobsView.body.message_count).toBe(0);
    expect((await http('GET', `${gw}/search`, { token: alice })).status).toBe(400);
    expect((await http('GET', `${gw}/analysis/conv-a?type=poetry`, { token: alice })).status).toBe(400);

    // Bob posts too; each stream carries exactly its own user's inputs.
    await http('POST', `${gw}/input`, { token: bob, body: { content: 'bob here' } });
    await bobStream.waitFor((e) => e.some((x) => x.data.type === 'input'), 10_000, "bob's input");
    expect(bobStream.ofType('input').map((e) => e.data.user_id)).toEqual(['bob-walk']);
    expect(aliceStream.ofType('input').map((e) => e.data.user_id)).toEqual(['alice-walk']);
    expect(
      (await http('GET', `${gw}/history`, { token: bob })).body.items.map(
        (i: { content: string }) => i.content,
      ),
    ).toEqual(['bob here']);
    aliceStream.close();
    bobStream.close();
  });

  it('stores a retried Idempotency-Key once, answering the same item id', async () => {
    const token = await tokenFor('idem-user');
    const send = () =>
      http('POST', `${gw}/input`, {
        token,
        body: { content: 'once only' },
        headers: { 'idempotency-key': 'k-1' },
      });
    const [a, b] = await Promise.all([send(), send()]);
    const c = await send();
    expect(a.body.item_id).toBe(b.body.item_id);
    expect(c.body.item_id).toBe(a.body.item_id);
    expect([a.body.status, b.body.status, c.body.status]).toEqual(['received', 'received', 'received']);
    const history = (await http('GET', `${gw}/history`, { token })).body;
    expect(history.count).toBe(1);
    // Every answer carries what was stored, not the retry's own timestamp.
    const kept = history.items[0].timestamp;
    expect([a, b, c].map((r) => r.body.data.timestamp)).toEqual([kept, kept, kept]);
  });

  it('answers 401 with the error body for missing, malformed, expired, unsigned and wrongly signed tokens', async () => {
    const cases = {
      missing: undefined,
      malformed: 'not-a-jwt',
      expired: await signToken({ oid: 'x' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      noExp: await signToken({ oid: 'x' }, { omitExp: true }),
      wrongSecret: await signToken({ oid: 'x' }, { secret: 'another-secret-0123456789' }),
      noUser: await signToken({ name: 'nobody' }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await http('POST', `${gw}/input`, { ...(token ? { token } : {}), body: { content: 'x' } });
      expect(res.status, name).toBe(401);
      expect(res.body.error.code, name).toBe('unauthorized');
      expect(res.body.error.request_id, name).toBe(res.headers['x-request-id']);
      const stream = await SseRecorder.open(`${gw}/output/stream${token ? `?token=${token}` : ''}`);
      expect(stream.status, `stream ${name}`).toBe(401);
    }
    const scheme = await http('GET', `${gw}/history`, { headers: { authorization: 'Basic abc' } });
    expect(scheme.status).toBe(401);
  });

  it('answers bad bodies with 4xx and the error body, never a 5xx', async () => {
    const token = await tokenFor('bad-body-user');
    const bodies: [string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number][] = [
      ['empty content', { body: { content: '' } }, 400],
      ['blank content', { body: { content: '   ' } }, 400],
      ['no content', { body: { metadata: {} } }, 400],
      ['number content', { body: { content: 42 } }, 400],
      ['array body', { body: [1, 2] }, 400],
      ['metadata not object', { body: { content: 'x', metadata: 'str' } }, 400],
      ['NUL in content', { body: { content: 'a\u0000b' } }, 400],
      ['NUL deep in metadata', { body: { content: 'a', metadata: { a: { b: ['\u0000'] } } } }, 400],
      [
        'lone surrogate',
        { raw: '{"content":"x\\ud800y"}', headers: { 'content-type': 'application/json' } },
        400,
      ],
      ['broken JSON', { raw: '{"content":', headers: { 'content-type': 'application/json' } }, 400],
      ['text body', { raw: 'hello', headers: { 'content-type': 'text/plain' } }, 400],
      ['xml body', { raw: '<a/>', headers: { 'content-type': 'application/xml' } }, 415],
    ];
    for (const [name, options, status] of bodies) {
      const res = await http('POST', `${gw}/input`, { token, ...options });
      expect(res.status, name).toBe(status);
      expect(typeof res.body.error?.code, name).toBe('string');
      expect(typeof res.body.error?.message, name).toBe('string');
    }
    const big = await postDeclaringLength(`${gw}/input`, 1024 * 1024 + 1, {
      authorization: `Bearer ${token}`,
    });
    expect(big.status, 'over 1 MiB').toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const badLimit = await http('GET', `${gw}/history?limit=0`, { token });
    expect(badLimit.status).toBe(400);
    expect((await http('GET', `${gw}/history`, { token })).body.count).toBe(0);
  });

  it('stores an input as large as the body limit allows, and takes back its own nulls', async () => {
    const token = await tokenFor('large-input-user');
    const shell = JSON.stringify({ content: 'large', metadata: { pad: '' } });
    const raw = JSON.stringify({
      content: 'large',
      metadata: { pad: 'z'.repeat(1024 * 1024 - shell.length) },
    });
    expect(Buffer.byteLength(raw)).toBe(1024 * 1024);
    const large = await http('POST', `${gw}/input`, {
      token,
      raw,
      headers: { 'content-type': 'application/json' },
    });
    expect(large.status).toBe(200);
    expect(large.body.status).toBe('received');
    const echoed = await http('POST', `${gw}/input`, {
      token,
      body: { content: 'nulls', conversation_id: null, metadata: null },
    });
    expect(echoed.body).toMatchObject({ status: 'received', data: { conversation_id: null, metadata: {} } });
    const history = await http('GET', `${gw}/history`, { token });
    expect(history.body.items.map((i: { content: string }) => i.content)).toEqual(['nulls', 'large']);
    expect(history.body.items[1].metadata.pad).toHaveLength(1024 * 1024 - shell.length);
  });

  it('reports every dependency healthy, and metrics', async () => {
    const health = await http('GET', `${gw}/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'healthy',
      dependencies: { memory: { status: 'healthy' }, cognition: { status: 'healthy' } },
    });
    for (const svc of [system.gateway, system.memory, system.cognition]) {
      const metrics = await http('GET', `${svc.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(String(metrics.body)).toContain('http_requests_total');
    }
  });

  it('propagates X-Request-ID into every service’s logs', async () => {
    const token = await tokenFor('trace-user');
    const requestId = `trace-${database}-${Date.now()}`;
    const res = await http('GET', `${gw}/context?query=x`, { token, headers: { 'x-request-id': requestId } });
    expect(res.headers['x-request-id']).toBe(requestId);
    // Log lines cross a pipe from each process: wait for them rather than race them.
    const seen = (p: { logs: string[] }) => p.logs.some((l) => l.includes(`"request_id":"${requestId}"`));
    for (const svc of [system.gateway, system.cognition, system.memory]) {
      await waitUntil(`${svc.name} to log ${requestId}`, () => (seen(svc) ? true : undefined), 10_000);
    }
  });

  it('stops every service with exit 0 on SIGTERM', async () => {
    expect(await system.gateway.stop()).toBe(0);
    expect(await system.cognition.stop()).toBe(0);
    expect(await system.memory.stop()).toBe(0);
  });
});
