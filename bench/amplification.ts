/**
 * Retry amplification: how many requests reach a dead memory per client request.
 *
 *   npx tsx --conditions=@cortex/source bench/amplification.ts
 *
 * The "memory" is an impostor (node:http answering every request 503, no Retry-After) that counts
 * what reaches it. K client requests to `GET /history` (one memory call each) go through the
 * gateway at a fixed rate with RESILIENCE_MEMORY_RETRY_MAX_RETRIES=3:
 *   - ours: the gateway's standard policy (retry budget + circuit breaker);
 *   - ours, breaker off: the retry budget alone (RESILIENCE_MEMORY_BREAKER_ENABLED=false);
 *   - naive: a plain loop of 4 attempts with the same backoff (full jitter, 100 ms base), no
 *     budget, no breaker, making the same K calls to the same impostor at the same rate.
 * Hits are counted on the path /history calls; the gateway's background calls (its event feed
 * and health checks) are shown apart.
 *
 * Env: BENCH_REQUESTS (K, default 3000), BENCH_RATE (client requests per second, default 300),
 * BENCH_CONNECTIONS (32). The last line of stdout is the result as JSON.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Impostor, memoryBreakerState, serviceAuth, usersWithTokens } from '@cortex/testing';
import { Pool } from 'undici';
import { envNumber, machineNote } from './lib/env';
import { outcomesOf, runLoad } from './lib/load';
import { outcomeOf } from './lib/outcome';
import { printJson, printTable, progress } from './lib/report';
import { Stack } from './lib/stack';
import { round } from './lib/stats';

const K = Math.max(1, Math.round(envNumber('BENCH_REQUESTS', 3000)));
const RATE = Math.max(1, envNumber('BENCH_RATE', 300));
const CONNECTIONS = Math.max(1, Math.round(envNumber('BENCH_CONNECTIONS', 32)));
const ATTEMPTS = 4;
// The resilience library's retry defaults, which the gateway uses too.
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;

const users = await usersWithTokens(CONNECTIONS);

interface Row {
  label: string;
  requests: number;
  reached: number;
  background: { events: number; health: number; other: number };
  seconds: number;
  answers: string;
  breakerAtStart?: number;
}

const delta = (before: Map<string, number>, after: Map<string, number>, kind: string) =>
  (after.get(kind) ?? 0) - (before.get(kind) ?? 0);

/**
 * A "memory" that is up but broken: every request gets 503 with an error body and no Retry-After,
 * so nothing tells the caller when to come back. Connections stay open a minute, as a real one's.
 */
const brokenMemory = () =>
  Impostor.start({ kind: 'status', status: 503, errorBody: true }, { keepAliveTimeoutMs: 60_000 });

async function ours(label: string, gatewayEnv: Record<string, string>): Promise<Row> {
  const impostor = await brokenMemory();
  progress(`${label}: gateway in front of the impostor`);
  const stack = await Stack.start({
    memory: false,
    memoryUrl: impostor.url,
    gatewayEnv: { RESILIENCE_MEMORY_RETRY_MAX_RETRIES: String(ATTEMPTS - 1), ...gatewayEnv },
  });
  try {
    const breakerAtStart = await memoryBreakerState(stack.gateway.url);
    const before = impostor.snapshot();
    const started = performance.now();
    progress(`${label}: ${K} × GET /history at ${RATE}/s`);
    const result = await runLoad({
      url: stack.gateway.url,
      path: '/history',
      connections: CONNECTIONS,
      amount: K,
      overallRate: RATE,
      headersFor: (n) => ({ authorization: users[n % users.length]!.authorization }),
      classify: outcomeOf,
    });
    const seconds = (performance.now() - started) / 1000;
    const after = impostor.snapshot();
    return {
      label,
      requests: result.total,
      reached: delta(before, after, 'history'),
      background: {
        events: delta(before, after, 'events'),
        health: delta(before, after, 'health'),
        other: delta(before, after, 'other'),
      },
      seconds,
      answers: outcomesOf(result),
      breakerAtStart,
    };
  } finally {
    await stack.stop();
    await impostor.close();
  }
}

/** The loop many clients write: try, sleep (full jitter, doubling), try again, up to 4 times. */
async function naive(): Promise<Row> {
  const impostor = await brokenMemory();
  const pool = new Pool(impostor.url, { connections: 256 });
  progress(`naive retry loop: ${K} calls at ${RATE}/s, ${ATTEMPTS} attempts each`);
  let failed = 0;
  const call = async (i: number) => {
    const path = `/resource/history/${encodeURIComponent(`bench-user-${i % CONNECTIONS}`)}?limit=50`;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const res = await pool.request({
        path,
        method: 'GET',
        headers: { accept: 'text/event-stream', ...(await serviceAuth()) },
      });
      await res.body.dump();
      if (res.statusCode < 500) return;
      if (attempt < ATTEMPTS) {
        await sleep(Math.round(Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1))));
      }
    }
    failed++;
  };
  const started = performance.now();
  const calls: Promise<void>[] = [];
  // Open loop at the same offered rate as the gateway runs: call i starts at i / RATE seconds.
  for (let i = 0; i < K; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    calls.push(call(i));
  }
  await Promise.all(calls);
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  await impostor.close();
  return {
    label: `naive loop (${ATTEMPTS} attempts, same backoff, no budget, no breaker)`,
    requests: K,
    reached: impostor.hitsOf('history'),
    background: { events: 0, health: 0, other: impostor.hitsOf('other') },
    seconds,
    answers: `failed after ${ATTEMPTS} attempts ×${failed}`,
  };
}

const rows: Row[] = [];
rows.push(await ours('ours (retry budget + breaker)', {}));
rows.push(
  await ours('ours, breaker off (retry budget alone)', { RESILIENCE_MEMORY_BREAKER_ENABLED: 'false' }),
);
rows.push(await naive());

const per = (r: Row) => r.reached / Math.max(1, r.requests);
const [mine, budgetOnly, plain] = rows as [Row, Row, Row];

printTable(
  `Requests reaching a dead memory per client request (K=${K} at ${RATE}/s, retry max attempts ${ATTEMPTS})`,
  ['client', 'requests', 'reached memory', 'per request', 'background (feed/health)', 'seconds', 'answers'],
  rows.map((r) => [
    r.label,
    r.requests,
    r.reached,
    round(per(r), 3),
    `${r.background.events}/${r.background.health}`,
    round(r.seconds, 1),
    r.answers,
  ]),
);
console.log(
  `ours ${round(per(mine), 3)} per request (target ≤ 1.1); naive ${round(per(plain), 3)}; naive ÷ ours = ${round(per(plain) / per(mine), 1)}x`,
);
if (mine.breakerAtStart !== 0)
  console.log(
    `note: the breaker was already ${mine.breakerAtStart === 2 ? 'open' : 'half-open'} when the load began (the gateway's own feed calls had tripped it)`,
  );

printJson({
  bench: 'amplification',
  requests: K,
  rate_per_s: RATE,
  connections: CONNECTIONS,
  retry_max_attempts: ATTEMPTS,
  ours_per_request: round(per(mine), 4),
  ours_budget_only_per_request: round(per(budgetOnly), 4),
  naive_per_request: round(per(plain), 4),
  ratio_naive_vs_ours: round(per(plain) / Math.max(per(mine), 1e-9), 2),
  rows: rows.map((r) => ({
    label: r.label,
    requests: r.requests,
    reached_memory: r.reached,
    per_request: round(per(r), 4),
    background: r.background,
    breaker_state_at_start: r.breakerAtStart ?? null,
    seconds: round(r.seconds, 2),
    answers: r.answers,
  })),
  machine: await machineNote(),
});
