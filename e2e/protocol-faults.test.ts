import {
  gatewayHealthDetails,
  http,
  Impostor,
  type ImpostorFault,
  type SeenRequest,
  ServiceProcess,
  serviceAuth,
  serviceSecretsEnv,
} from '@cortex/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputLedger, makeUsers, type User } from './harness/ledger';
import { primaryMode, System } from './harness/system';
import { waitUntil } from './harness/wait';

// Answers the real services never give (5xx with and without Retry-After, bodies that are not JSON,
// wrong shapes, streams cut short) come from impostors, which count and timestamp every request.
// No database is involved, so this runs once.
describe('protocol faults from impostor memory and cognition', () => {
  let memory: Impostor;
  let cognitionImpostor: Impostor;
  let system: System;
  let realCognition: ServiceProcess;
  let gw: string;
  let users: User[];

  beforeAll(async () => {
    memory = await Impostor.start();
    cognitionImpostor = await Impostor.start(undefined, { service: 'cognition' });
    system = await System.start({
      database: primaryMode(),
      memoryUrl: memory.url,
      cognitionUrl: cognitionImpostor.url,
      // A breaker that never opens here, so that each answer is mapped on its own merits.
      env: {
        gateway: {
          RESILIENCE_MEMORY_BREAKER_FAILURE_THRESHOLD: '1000',
          RESILIENCE_COGNITION_BREAKER_FAILURE_THRESHOLD: '1000',
        },
      },
    });
    // A real cognition reading from the impostor memory, asked directly.
    realCognition = await new ServiceProcess('cognition', {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      ...serviceSecretsEnv('cognition'),
      MEMORY_SERVICE_URL: memory.url,
    }).start();
    gw = system.gateway.url;
    users = await makeUsers('protocol', 2);
  });
  afterAll(async () => {
    await realCognition?.stop();
    await system?.stop();
    await memory?.close();
    await cognitionImpostor?.close();
  });
  afterEach(() => {
    memory.fault = { kind: 'ok' };
    cognitionImpostor.fault = { kind: 'ok' };
  });

  /** Heals memory and waits until the gateway's journal is drained into it. */
  async function drained() {
    memory.fault = { kind: 'ok' };
    return waitUntil('the journal drained into memory', async () => {
      const h = await gatewayHealthDetails(gw);
      return h.body.dependencies.pending_store.items === 0 ? true : undefined;
    });
  }

  /** Every accepted input reached memory; the impostor keeps one copy per item id by construction. */
  function expectAllStored(ledger: InputLedger) {
    const accepted = ledger.accepted();
    const missing = [...accepted.keys()].filter((id) => !memory.items.has(id));
    expect(missing).toEqual([]);
    for (const [id, a] of accepted)
      expect(memory.items.get(id)).toMatchObject({ user_id: a.user, content: a.content });
  }

  /**
   * For every item, consecutive requests carrying it (single or batched) where the first was
   * answered with Retry-After: how long after that answer the next one came.
   */
  function retryAfterGaps(calls: SeenRequest[]) {
    const byItem = new Map<string, SeenRequest[]>();
    for (const c of calls) for (const id of c.itemIds) byItem.set(id, [...(byItem.get(id) ?? []), c]);
    const gaps: { itemId: string; retryAfterMs: number; gapMs: number }[] = [];
    for (const [itemId, list] of byItem) {
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1] as SeenRequest;
        if (prev.retryAfterMs === undefined) continue;
        gaps.push({
          itemId,
          retryAfterMs: prev.retryAfterMs,
          gapMs: (list[i] as SeenRequest).arrivedAt - (prev.answeredAt as number),
        });
      }
    }
    return gaps;
  }

  it('503 with Retry-After: never retried earlier, inputs journalled, reading routes answer 503 with Retry-After', async () => {
    const ledger = new InputLedger();
    const once = new Set<string>();
    // A request carrying an input for the first time is refused with Retry-After: 1; the retry
    // succeeds (the gateway may send inputs alone or batched).
    memory.fault = (r) => {
      if (r.itemIds.length === 0 || r.itemIds.every((id) => once.has(id))) return { kind: 'ok' };
      for (const id of r.itemIds) once.add(id);
      return { kind: 'status', status: 503, retryAfterS: 1, errorBody: true };
    };
    // The gateway does not wait out Retry-After inside a client's request: it journals the input,
    // and its replayer comes back for it, never before the Retry-After has passed.
    const first = await Promise.all(users.flatMap((u) => [ledger.post(gw, u), ledger.post(gw, u)]));
    expect(first.map((a) => a.status)).toEqual(Array(4).fill('received_storage_pending'));
    await waitUntil('the replayer to store the refused inputs', () =>
      retryAfterGaps(memory.storeCalls()).length >= 4 ? true : undefined,
    );
    const retried = retryAfterGaps(memory.storeCalls());
    for (const g of retried) expect(g.gapMs).toBeGreaterThanOrEqual(g.retryAfterMs);

    // Refused for good: journalled after the attempts, each spaced by Retry-After.
    const refuse: ImpostorFault = { kind: 'status', status: 503, retryAfterS: 1, errorBody: true };
    memory.fault = refuse;
    const pending = await Promise.all(users.map((u) => ledger.post(gw, u)));
    expect(pending.map((a) => a.status)).toEqual(Array(2).fill('received_storage_pending'));
    // A memory that refuses is away for reading too: the fallback history, pending inputs in it.
    const history = await http('GET', `${gw}/history`, { token: users[0]?.token });
    expect(history.status).toBe(200);
    expect(history.body.fallback).toBe(true);
    expect(history.body.items.map((i: { id: string }) => i.id)).toContain(pending[0]?.itemId);
    const health = await gatewayHealthDetails(gw);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('warning');
    expect(health.body.dependencies.memory.status).toBe('unhealthy');
    // Let the replayer work against the refusals for a while, then look at every request per input.
    await new Promise((r) => setTimeout(r, 3000));
    const gaps = retryAfterGaps(memory.calls('store_input'));
    const early = gaps.filter((g) => g.gapMs < g.retryAfterMs);
    const byRequest = pending.map(
      (p) => memory.calls('store_input').filter((c) => c.itemId === p.itemId).length,
    );
    console.log(
      `[retry-after] ${gaps.length} retries after a Retry-After of 1 s; min gap ${Math.round(Math.min(...gaps.map((g) => g.gapMs)))} ms; ${early.length} early; attempts per journalled input ${JSON.stringify(byRequest)}`,
    );
    await drained();
    expectAllStored(ledger);
    // Last: the replayer's first attempt after journalling must wait for the Retry-After too (see
    // docs/failure-scenarios.md, "Found by this suite, and fixed").
    expect(early).toEqual([]);
  });

  it('500 and 503 without Retry-After, with and without the error body: inputs journalled, /history falls back', async () => {
    const ledger = new InputLedger();
    const variants: ImpostorFault[] = [
      { kind: 'status', status: 500 },
      { kind: 'status', status: 500, errorBody: true },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 503, errorBody: true },
    ];
    for (const fault of variants) {
      const what = JSON.stringify(fault);
      memory.fault = fault;
      const answers = await Promise.all(users.map((u) => ledger.post(gw, u)));
      expect(
        answers.map((a) => a.status),
        what,
      ).toEqual(Array(2).fill('received_storage_pending'));
      const history = await http('GET', `${gw}/history`, { token: users[1]?.token });
      expect(history.status, `${what} → ${JSON.stringify(history.body)}`).toBe(200);
      expect(history.body.fallback, what).toBe(true);
      expect(
        history.body.items.map((i: { id: string }) => i.id),
        what,
      ).toContain(answers[1]?.itemId);
      expect(history.headers['retry-after'], what).toBeUndefined();
      const degraded = await http('POST', `${realCognition.url}/tool/get_context`, {
        headers: await serviceAuth('gateway', 'cognition'),
        body: { arguments: { user_id: users[1]?.id, query: 'x' } },
      });
      expect(degraded.status, what).toBe(200);
      // Unavailable for a 503; for a 500 an error, or unavailable once cognition's own breaker opened.
      expect(degraded.body.result.error, what).toMatch(
        fault.kind === 'status' && fault.status === 503
          ? /^memory_service_unavailable$/
          : /^memory_service_(error|unavailable)$/,
      );
    }
    await drained();
    expectAllStored(ledger);
  });

  it('malformed answers: data_error 502 on reading routes, input journalled, cognition degrades with memory_service_error', async () => {
    const ledger = new InputLedger();
    for (const kind of ['malformed-json', 'wrong-shape', 'truncated'] as const) {
      memory.fault = { kind };
      cognitionImpostor.fault = { kind };
      const answers = await Promise.all(users.map((u) => ledger.post(gw, u)));
      expect(
        answers.map((a) => `${a.httpStatus} ${a.status}`),
        kind,
      ).toEqual(Array(2).fill('200 received_storage_pending'));
      const history = await http('GET', `${gw}/history`, { token: users[0]?.token });
      expect.soft(history.status, `history, ${kind}: ${JSON.stringify(history.body)}`).toBe(502);
      expect.soft(history.body.error?.code, `history, ${kind}`).toBe('data_error');
      const context = await http('GET', `${gw}/context?query=x`, { token: users[0]?.token });
      expect.soft(context.status, `context, ${kind}: ${JSON.stringify(context.body)}`).toBe(502);
      expect.soft(context.body.error?.code, `context, ${kind}`).toBe('data_error');
      const degraded = await http('POST', `${realCognition.url}/tool/get_context`, {
        headers: await serviceAuth('gateway', 'cognition'),
        body: { arguments: { user_id: users[0]?.id } },
      });
      expect(degraded.status, kind).toBe(200);
      expect(degraded.body.result, kind).toMatchObject({ count: 0 });
      // An error for a malformed answer, or unavailable once cognition's own breaker opened on them.
      expect(degraded.body.result.error, kind).toMatch(/^memory_service_(error|unavailable)$/);
    }
    cognitionImpostor.fault = { kind: 'ok' };
    await drained();
    expectAllStored(ledger);
    const context = await http('GET', `${gw}/context?query=x`, { token: users[0]?.token });
    expect(context.status).toBe(200);
  });

  it('every call the impostors received carried a valid service token of its caller', () => {
    const unsigned = (i: Impostor) =>
      i.requests.filter((r) => r.path !== '/health' && r.caller === undefined);
    expect(unsigned(memory).map((r) => r.path)).toEqual([]);
    expect(unsigned(cognitionImpostor).map((r) => r.path)).toEqual([]);
    // Tool calls, history reads and the event feed from the gateway; reads from cognition.
    const by = (i: Impostor, caller: string) =>
      new Set(
        i.requests.filter((r) => r.caller === caller).map((r) => r.path.split('/').slice(0, 3).join('/')),
      );
    expect([...by(memory, 'gateway')]).toEqual(
      expect.arrayContaining(['/tool/store_input', '/resource/history', '/resource/events']),
    );
    expect([...by(memory, 'cognition')]).toEqual(expect.arrayContaining(['/resource/history']));
    expect([...by(cognitionImpostor, 'gateway')]).toEqual(expect.arrayContaining(['/tool/get_context']));
  });
});
