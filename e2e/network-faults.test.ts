import { gatewayHealthDetails, http, Metrics } from '@cortex/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputLedger, makeUsers, percentile, reconcile, storedInputs, type User } from './harness/ledger';
import { runLoad } from './harness/load';
import { E2E_RECOVERY, recoveryBoundMs, waitForRecovery } from './harness/recovery';
import { primaryMode, System } from './harness/system';
import { waitUntil } from './harness/wait';

// What the network does to memory's traffic (latency past the timeout, resets) and a gateway crash
// in the middle of its replay. The database engine plays no part, so one mode is enough.
const database = primaryMode();
const TIMEOUT_MS = 1000;
const ATTEMPTS = 3;

describe(`network faults between the gateway and memory (${database})`, () => {
  let system: System;
  let gw: string;
  const bound = recoveryBoundMs(E2E_RECOVERY);

  beforeAll(async () => {
    system = await System.start({
      database,
      memoryProxy: true,
      env: {
        gateway: {
          RESILIENCE_MEMORY_TIMEOUT_MS: String(TIMEOUT_MS),
          RESILIENCE_MEMORY_RETRY_MAX_RETRIES: String(ATTEMPTS - 1),
          // One attempt at cognition keeps the slow scenario's /context to one cognition timeout.
          RESILIENCE_COGNITION_RETRY_MAX_RETRIES: '0',
        },
      },
    });
    gw = system.gateway.url;
  });
  afterAll(async () => {
    await system?.stop();
  });
  // A failed scenario must not leave its fault to the next one.
  afterEach(async () => {
    proxy().set({});
    await proxy().up();
    if (!system.gateway.running) await system.gateway.start();
    await waitForRecovery(gw, { boundMs: bound, what: 'the system between scenarios' });
  });

  const proxy = () => {
    if (!system.memoryProxy) throw new Error('no memory proxy');
    return system.memoryProxy;
  };

  /** Every input of these users the gateway accepted is in memory exactly once, and nothing else is. */
  async function expectExactlyOnce(ledger: InputLedger, users: User[]) {
    const ids = new Set(users.map((u) => u.id));
    const stored = (await storedInputs(system.memory.url)).filter((s) => ids.has(s.user_id));
    const r = reconcile(ledger.accepted(), stored, ids);
    expect(r).toMatchObject({ lost: 0, duplicates: 0, mismatched: 0, unknown: 0 });
    expect(r.stored).toBe(r.accepted);
    return r;
  }

  it('memory slower than the timeout: inputs answered received_storage_pending (no 5xx, no hang), stored once later', async () => {
    const users = await makeUsers('slow', 3);
    const [probe] = (await makeUsers('slow-probe', 1)) as [User];
    const ledger = new InputLedger();
    proxy().set({ latencyMs: 2.5 * TIMEOUT_MS });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ledger.post(gw, users[i % 3] as User)),
    );
    expect(answers.map((a) => a.httpStatus)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set(['received_storage_pending']));
    // Not a hang: at most every attempt's timeout plus the backoffs, with room for a loaded machine.
    const answerBound = ATTEMPTS * TIMEOUT_MS + 2000 + 5000;
    const latencies = answers.map((a) => a.latencyMs);
    console.log(
      `[slow] POST /input under ${2.5 * TIMEOUT_MS} ms latency: p50 ${Math.round(percentile(latencies, 50))} ms, max ${Math.round(Math.max(...latencies))} ms (bound ${answerBound})`,
    );
    expect(Math.max(...latencies)).toBeLessThan(answerBound);

    // Memory timing out is memory away: the user's history from the gateway's cache (none was
    // read before here) plus the inputs it holds for them, marked as a fallback.
    const history = await http('GET', `${gw}/history`, { token: users[0]?.token });
    expect(history.status).toBe(200);
    expect(history.body.fallback).toBe(true);
    expect(history.body.items.length).toBe(4);
    expect(history.body.items.every((i: { pending?: boolean }) => i.pending === true)).toBe(true);
    const context = await http('GET', `${gw}/context?query=x`, { token: users[0]?.token });
    // Cognition is up and memory is not: its degraded answer, before the gateway gives up on it
    // (see docs/failure-scenarios.md, "Found by this suite, and fixed").
    expect.soft(context.status, JSON.stringify(context.body)).toBe(200);
    expect.soft(context.body.error).toBe('memory_service_unavailable');
    const health = await gatewayHealthDetails(gw);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('warning');
    expect(
      (await Metrics.scrape(gw)).sum('resilience_errors_total', { upstream: 'memory', code: 'timeout' }),
    ).toBeGreaterThan(0);

    proxy().set({});
    const ms = await waitForRecovery(gw, {
      boundMs: bound,
      ledger,
      probe,
      what: 'the gateway after latency healed',
    });
    console.log(`[slow] recovered ${Math.round(ms)} ms after the latency was removed (bound ${bound} ms)`);
    await expectExactlyOnce(ledger, [...users, probe]);
  });

  it('connections reset: no 5xx on /input, no input lost, also with resets switched on and off under load', async () => {
    const users = await makeUsers('reset', 4);
    const [probe] = (await makeUsers('reset-probe', 1)) as [User];
    const ledger = new InputLedger();
    const before = await Metrics.scrape(gw);
    proxy().set({ resetPeer: true });
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ledger.post(gw, users[i % 4] as User)),
    );
    expect(answers.map((a) => a.httpStatus)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set(['received_storage_pending']));
    // The details, computed afresh (the open /health shares one result a second).
    expect((await gatewayHealthDetails(gw)).body.status).toBe('warning');
    // Counted per attempt (retries by reason) and per call (final error): the first attempts
    // fail with `connection` before the breaker opens and turns the rest into `circuit_open`.
    const connectionFailures = (m: Metrics) =>
      m.sum('resilience_retries_total', { upstream: 'memory', reason: 'connection' }) +
      m.sum('resilience_errors_total', { upstream: 'memory', code: 'connection' });
    expect(connectionFailures(await Metrics.scrape(gw))).toBeGreaterThan(connectionFailures(before));

    proxy().set({});
    const load = runLoad(ledger, { target: () => gw, users, concurrency: 6, count: 200 });
    for (let i = 0; i < 6 && load.sent < 200; i++) {
      await new Promise((r) => setTimeout(r, 300));
      proxy().set({ resetPeer: i % 2 === 0 });
    }
    proxy().set({});
    await load.done;
    const ms = await waitForRecovery(gw, { boundMs: bound, ledger, probe, what: 'the gateway after resets' });
    console.log(`[reset] ${JSON.stringify(ledger.byStatus())}; recovered in ${Math.round(ms)} ms`);
    expect(ledger.serverErrors()).toEqual([]);
    expect(ledger.answers.every((a) => a.httpStatus === 200)).toBe(true);
    await expectExactlyOnce(ledger, [...users, probe]);
  });

  it('the gateway SIGKILLed in the middle of its replay: restarted, the replay finishes, each input stored once', async () => {
    const users = await makeUsers('replay-kill', 5);
    const [probe] = (await makeUsers('replay-kill-probe', 1)) as [User];
    const ids = new Set(users.map((u) => u.id));
    const ledger = new InputLedger();
    const N = 150;
    await proxy().down();
    for (let start = 0; start < N; start += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => ledger.post(gw, users[(start + i) % 5] as User)),
      );
    }
    expect(ledger.byStatus()).toEqual({ received_storage_pending: N });
    expect((await gatewayHealthDetails(gw)).body.dependencies.pending_store.items).toBe(N);

    // Slow memory down so that the replay takes seconds, then let it start.
    proxy().set({ latencyMs: 200 });
    await proxy().up();
    const partial = await waitUntil(
      'the replay under way',
      async () => {
        const n = (await storedInputs(system.memory.url)).filter((s) => ids.has(s.user_id)).length;
        return n > 0 ? n : undefined;
      },
      bound,
    );
    await system.gateway.kill();
    const atKill = (await storedInputs(system.memory.url)).filter((s) => ids.has(s.user_id)).length;
    console.log(`[replay-kill] gateway killed with ${partial.value}..${atKill} of ${N} replayed`);
    expect(atKill).toBeLessThan(N);
    proxy().set({});

    await system.gateway.start();
    expect(system.gateway.logs.some((l) => l.includes('pending inputs recovered; replaying'))).toBe(true);
    const ms = await waitForRecovery(gw, { boundMs: bound, ledger, probe, what: 'the restarted gateway' });
    console.log(`[replay-kill] replay finished ${Math.round(ms)} ms after the restart`);
    const r = await expectExactlyOnce(ledger, [...users, probe]);
    expect(r.accepted).toBeGreaterThan(N);
  });
});
