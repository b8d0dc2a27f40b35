import { Impostor, Metrics } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputLedger, makeUsers, type User } from './harness/ledger';
import { primaryMode, System } from './harness/system';

const MAX_ATTEMPTS = 4;
const N = 200;
const CONCURRENCY = 20;

// With memory down and 4 attempts configured, a naive client sends 4 requests per input; the retry
// budget keeps it near 1 + ratio (0.2). The breaker is off so that the budget alone is measured.
// The gateway batches concurrent inputs into one store_inputs call, so there are fewer requests
// to memory than client requests; amplification is counted per request and per policy call.
describe(`retry amplification with memory down (RETRY_MAX_RETRIES=${MAX_ATTEMPTS - 1})`, () => {
  let memory: Impostor;
  let cognition: Impostor;
  let system: System;
  let gw: string;
  let users: User[];

  beforeAll(async () => {
    memory = await Impostor.start({ kind: 'status', status: 503 });
    cognition = await Impostor.start(undefined, { service: 'cognition' });
    system = await System.start({
      database: primaryMode(),
      memoryUrl: memory.url,
      cognitionUrl: cognition.url,
      env: {
        gateway: {
          RESILIENCE_MEMORY_RETRY_MAX_RETRIES: String(MAX_ATTEMPTS - 1),
          RESILIENCE_MEMORY_RETRY_BASE_DELAY_MS: '10',
          RESILIENCE_MEMORY_RETRY_MAX_DELAY_MS: '50',
          RESILIENCE_MEMORY_BREAKER_ENABLED: 'false',
          // The budget's quiet-time floor (10 retries per 10 s by default) would dominate the few
          // dozen calls a batching gateway makes here; lowered so that the ratio is what is measured.
          RESILIENCE_MEMORY_RETRY_BUDGET_MIN_RETRIES_PER_SECOND: '0.1',
        },
      },
    });
    gw = system.gateway.url;
    users = await makeUsers('amplification', 4);
  });
  afterAll(async () => {
    await system?.stop();
    await memory?.close();
    await cognition?.close();
  });

  /** Attempts per policy call on the gateway's side: 1 + retries / calls, over a window. */
  const attemptsPerCall = (before: Metrics, after: Metrics) => {
    const d = (name: string) =>
      after.sum(name, { upstream: 'memory' }) - before.sum(name, { upstream: 'memory' });
    return 1 + d('resilience_retries_total') / d('resilience_calls_total');
  };

  async function load(tag: string) {
    const ledger = new InputLedger();
    const requestIds = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const requestId = `${tag}-${i}`;
        requestIds.add(requestId);
        await ledger.post(gw, users[i % users.length] as User, { requestId });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return { ledger, requestIds };
  }

  it('503 without Retry-After: downstream attempts per client request stay near 1.2, not 4', async () => {
    const firstRequest = memory.requests.length;
    const before = await Metrics.scrape(gw);
    const { ledger, requestIds } = await load('amp-503');
    const after = await Metrics.scrape(gw);
    expect(ledger.byStatus()).toEqual({ received_storage_pending: N });
    const window = memory.requests.slice(firstRequest);
    // The request path's attempts: alone under the client's request id, or in a batch (the gateway
    // groups concurrent inputs into one store_inputs call); the replayer's carry neither.
    const requestPath = window.filter(
      (r) => requestIds.has(r.requestId as string) || (r.requestId ?? '').startsWith('batch-'),
    );
    const itemIds = ledger.answers.map((a) => a.itemId as string);
    const sendsPerInput = itemIds.map((id) => requestPath.filter((r) => r.itemIds.includes(id)).length);
    const perRequest = requestPath.length / N;
    const itemSends = sendsPerInput.reduce((a, n) => a + n, 0) / N;
    const perCall = attemptsPerCall(before, after);
    console.log(
      `[amplification/503] ${N} client requests → ${requestPath.length} requests to memory (${perRequest.toFixed(2)} per client request; each input sent ${itemSends.toFixed(2)} times on average, max ${Math.max(...sendsPerInput)}, since a retried batch re-sends all of its inputs); ${perCall.toFixed(2)} attempts per policy call incl. the replayer`,
    );
    // Every input was tried at least once before it was journalled…
    expect(Math.min(...sendsPerInput)).toBeGreaterThanOrEqual(1);
    // …and the budget bounds what reaches memory: requests per client request, attempts per call.
    expect(perRequest).toBeLessThanOrEqual(1.3);
    expect(perCall).toBeGreaterThanOrEqual(1);
    expect(perCall).toBeLessThanOrEqual(1.3);
    // Everything the gateway sent memory meanwhile (the replayer's retries of the journal too)
    // against the calls its policy counted: the replayer shares the budget, it does not add its own.
    const seen = window.filter((r) => r.path !== '/health').length;
    const calls =
      after.sum('resilience_calls_total', { upstream: 'memory' }) -
      before.sum('resilience_calls_total', { upstream: 'memory' });
    console.log(`[amplification/503] all traffic: ${seen} requests at memory for ${calls} policy calls`);
    expect(seen / calls).toBeGreaterThanOrEqual(1);
    expect(seen / calls).toBeLessThanOrEqual(1.3);
  });

  it('connection refused: attempts per call stay near 1.2, not 4', async () => {
    await memory.close();
    const before = await Metrics.scrape(gw);
    const { ledger } = await load('amp-refused');
    const after = await Metrics.scrape(gw);
    expect(ledger.byStatus()).toEqual({ received_storage_pending: N });
    const perCall = attemptsPerCall(before, after);
    const retries =
      after.sum('resilience_retries_total', { upstream: 'memory', reason: 'connection' }) -
      before.sum('resilience_retries_total', { upstream: 'memory', reason: 'connection' });
    const delta = (name: string) =>
      after.samples
        .filter((x) => x.name === name && x.labels.upstream === 'memory')
        .map((x) => `${JSON.stringify(x.labels)}=${x.value - before.sum(name, x.labels)}`);
    console.log(
      `[amplification/refused] ${N} client requests: ${perCall.toFixed(2)} attempts per policy call; calls ${delta('resilience_calls_total')}; retries ${delta('resilience_retries_total')}; errors ${delta('resilience_errors_total')}`,
    );
    expect(
      retries,
      JSON.stringify([
        delta('resilience_errors_total'),
        delta('resilience_retries_total'),
        delta('resilience_rejections_total'),
      ]),
    ).toBeGreaterThan(0);
    expect(perCall).toBeLessThanOrEqual(1.3);
  });
});
