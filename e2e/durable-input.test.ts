import { gatewayHealthDetails, http, tokenFor } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseRecorder } from './harness/sse-client';
import { databaseModes, System } from './harness/system';
import { waitUntil } from './harness/wait';

const N = 200;

describe.each(databaseModes())('no input is lost (%s)', (database) => {
  let system: System;

  beforeAll(async () => {
    system = await System.start({ database });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('journals inputs while memory is down, survives SIGKILL of the gateway, stores each exactly once', async () => {
    const token = await tokenFor(`durable-${database}`);
    const gw = () => system.gateway.url;

    // One stored input gives the client a resume position, as a real browser would have.
    const live = await SseRecorder.open(`${gw()}/output/stream?token=${token}`);
    const first = await http('POST', `${gw()}/input`, { token, body: { content: 'before the outage' } });
    expect(first.body.status).toBe('received');
    await live.waitFor((e) => e.some((x) => x.data.type === 'input'), 10_000, 'the first input');
    const position = live.ofType('input')[0]?.id as string;
    expect(position).toMatch(/^\d+$/);

    expect(await system.memory.stop()).toBe(0);
    const answers = [];
    for (let start = 0; start < N; start += 20) {
      const batch = Array.from({ length: Math.min(20, N - start) }, (_, i) =>
        http('POST', `${gw()}/input`, {
          token,
          body: { content: `during the outage #${start + i}`, conversation_id: 'outage' },
          headers: { 'idempotency-key': `outage-${start + i}` },
        }),
      );
      answers.push(...(await Promise.all(batch)));
    }
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill(200));
    expect(new Set(answers.map((a) => a.body.status))).toEqual(new Set(['received_storage_pending']));
    const ids = new Set(answers.map((a) => a.body.item_id as string));
    expect(ids.size).toBe(N);
    // The client's retry of a journalled input is the same input: same id, same data, no copy.
    const retried = await http('POST', `${gw()}/input`, {
      token,
      body: { content: 'a resend that differs' },
      headers: { 'idempotency-key': 'outage-0' },
    });
    expect(retried.body).toEqual({ ...answers[0]?.body });
    // Pending inputs reach the open stream at once, without an id (they have no feed position yet).
    await live.waitFor(
      (e) => e.filter((x) => x.data.type === 'input').length === N + 1,
      10_000,
      'pending events',
    );
    expect(
      live
        .ofType('input')
        .slice(1)
        .every((e) => e.id === undefined),
    ).toBe(true);
    const health = await gatewayHealthDetails(gw());
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('warning');
    expect(health.body.dependencies.pending_store.items).toBe(N);

    await system.gateway.kill();
    live.close();
    await system.gateway.start();
    await system.memory.start();
    const recovered = await waitUntil('all pending inputs stored', async () => {
      const h = await http('GET', `${gw()}/history?limit=1000`, { token });
      return h.body.count === N + 1 && h.body.fallback === undefined ? h.body.items : undefined;
    });
    console.log(`[${database}] ${N} journalled inputs stored ${recovered.ms} ms after memory came back`);
    const stored = recovered.value as { id: string; content: string }[];
    expect(new Set(stored.map((i) => i.id)).size).toBe(N + 1);
    for (const id of ids) expect(stored.some((i) => i.id === id)).toBe(true);

    const resumed = await SseRecorder.open(`${gw()}/output/stream?token=${token}`, {
      'last-event-id': position,
    });
    await resumed.waitFor(
      (e) => e.filter((x) => x.data.type === 'input').length >= N,
      15_000,
      'replayed events',
    );
    const replayed = resumed.ofType('input');
    expect(replayed).toHaveLength(N);
    expect(new Set(replayed.map((e) => e.data.id))).toEqual(ids);
    const seqs = replayed.map((e) => Number(e.id));
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true);
    expect(seqs.every((s) => s > Number(position))).toBe(true);
    // And resuming from the last of them yields nothing more: each event once.
    const again = await SseRecorder.open(`${gw()}/output/stream?token=${token}`, {
      'last-event-id': String(seqs.at(-1)),
    });
    await again.waitFor((e) => e.some((x) => x.data.type === 'connection_established'));
    await new Promise((r) => setTimeout(r, 500));
    expect(again.ofType('input')).toHaveLength(0);
    resumed.close();
    again.close();
    expect((await gatewayHealthDetails(gw())).body.dependencies.pending_store.items).toBe(0);
  });
});
