/**
 * Failing fast: how long the gateway takes to answer when memory is away.
 *
 *   npx tsx --conditions=@cortex/source bench/failfast.ts
 *
 * Part 1, memory down and its circuit open: p50/p99 under load (autocannon) of
 *   - `GET /history` → 503 circuit_open, beside its floor `GET /history?limit=0` → 400;
 *   - `POST /input` → 200 received_storage_pending (journalled with fdatasync), beside its floor,
 *     `POST /input` with empty content → 400.
 * A floor is the same route, token check, validation and error handler, stopping just before the
 * dependency call: what is left of the ratio is the open circuit (and for input the journal).
 * `/health` would not do (it calls the dependencies' health checks) and `/metrics` renders every
 * metric, a cost of its own that no other route has.
 *
 * Part 2, memory blackholed (a FaultProxy that swallows bytes) with the circuit still closed:
 * the latency of requests started before the circuit opens, beside the configured per-attempt
 * timeout that bounds it.
 *
 * Env: BENCH_SECONDS (per route per round, default 5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (16),
 * BENCH_TIMEOUT_MS (part 2's per-attempt timeout, default 1000), BENCH_BLACKHOLE_SECONDS
 * (default 3 × timeout + 2 s), DATABASE_URL. The last line of stdout is the result as JSON.
 */

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultProxy } from '@cortex/fault-proxy';
import { memoryBreakerState as breakerState, freePort, usersWithTokens } from '@cortex/testing';
import { request } from 'undici';
import { envNumber, machineNote } from './lib/env';
import { fdatasyncLatency } from './lib/fsync-probe';
import { type Answer, type LoadResult, outcomesOf, runLoad } from './lib/load';
import { outcomeOf } from './lib/outcome';
import { printJson, printTable, progress } from './lib/report';
import { Stack } from './lib/stack';
import { round, summarise } from './lib/stats';

const SECONDS = envNumber('BENCH_SECONDS', 5);
const ROUNDS = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3)));
const CONNECTIONS = Math.max(2, Math.round(envNumber('BENCH_CONNECTIONS', 16)));
const TIMEOUT_MS = envNumber('BENCH_TIMEOUT_MS', 1000);
const BLACKHOLE_SECONDS = envNumber('BENCH_BLACKHOLE_SECONDS', Math.ceil((3 * TIMEOUT_MS) / 1000) + 2);
const RETRY_MAX_ATTEMPTS = 3;

const users = await usersWithTokens(CONNECTIONS);
const auth = (n: number) => ({ authorization: users[n % users.length]!.authorization });
const json = (n: number) => ({ ...auth(n), 'content-type': 'application/json' });

interface Route {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  expect: string;
  headersFor: (n: number) => Record<string, string>;
}

const ROUTES: Route[] = [
  {
    name: 'GET /history (circuit open)',
    method: 'GET',
    path: '/history',
    expect: '503 circuit_open',
    headersFor: auth,
  },
  {
    name: 'GET /history?limit=0 (floor)',
    method: 'GET',
    path: '/history?limit=0',
    expect: '400 invalid_request',
    headersFor: auth,
  },
  {
    name: 'POST /input (journalled)',
    method: 'POST',
    path: '/input',
    body: JSON.stringify({ content: 'bench input', metadata: {} }),
    expect: '200 received_storage_pending',
    headersFor: json,
  },
  {
    name: 'POST /input empty content (floor)',
    method: 'POST',
    path: '/input',
    body: JSON.stringify({ content: '' }),
    expect: '400 invalid_request',
    headersFor: json,
  },
];

/** Calls memory through the gateway until its breaker reports open (2). */
async function tripCircuit(gatewayUrl: string) {
  for (let i = 0; i < 200; i++) {
    if ((await breakerState(gatewayUrl)) === 2) return;
    const res = await request(`${gatewayUrl}/history`, { headers: auth(0) });
    await res.body.dump();
  }
  throw new Error('the memory circuit did not open');
}

async function openCircuitPart() {
  progress('part 1: gateway with memory down (nothing listens on its port)');
  const deadMemory = `http://127.0.0.1:${await freePort()}`;
  // Held open for the whole part, so every measured call meets an open circuit, not a probe.
  const stack = await Stack.start({
    memory: false,
    memoryUrl: deadMemory,
    gatewayEnv: {
      RESILIENCE_MEMORY_BREAKER_OPEN_MS: '600000',
      RESILIENCE_MEMORY_BREAKER_MAX_OPEN_MS: '600000',
    },
  });
  try {
    await tripCircuit(stack.gateway.url);
    const results = new Map<string, LoadResult[]>(ROUTES.map((r) => [r.name, []]));
    // Warm every route once, then rotate the order each round so drift hits all routes alike.
    for (const route of ROUTES) await load(stack, route, 1);
    for (let round_ = 0; round_ < ROUNDS; round_++) {
      for (let k = 0; k < ROUTES.length; k++) {
        const route = ROUTES[(k + round_) % ROUTES.length]!;
        progress(`part 1 round ${round_ + 1}/${ROUNDS}: ${route.name}, ${SECONDS}s`);
        results.get(route.name)!.push(await load(stack, route, SECONDS));
      }
    }
    const stillOpen = (await breakerState(stack.gateway.url)) === 2;
    const fsync = await fdatasyncLatency(stack.workDir);
    return { results, stillOpen, fsync };
  } finally {
    await stack.stop();
  }
}

function load(stack: Stack, route: Route, seconds: number) {
  return runLoad({
    url: stack.gateway.url,
    method: route.method,
    path: route.path,
    ...(route.body === undefined ? {} : { body: route.body }),
    connections: CONNECTIONS,
    durationS: seconds,
    headersFor: route.headersFor,
    classify: outcomeOf,
  });
}

async function blackholePart() {
  progress(`part 2: memory behind a fault proxy, per-attempt timeout ${TIMEOUT_MS} ms`);
  let proxy: FaultProxy | undefined;
  const stack = await Stack.start({
    wrapMemoryUrl: async (url) => {
      proxy = await FaultProxy.start({ port: Number(new URL(url).port) });
      return proxy.url;
    },
    gatewayEnv: {
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
      RESILIENCE_MEMORY_TIMEOUT_MS: String(TIMEOUT_MS),
      RESILIENCE_MEMORY_RETRY_MAX_RETRIES: String(RETRY_MAX_ATTEMPTS - 1),
    },
  });
  try {
    const gw = stack.gateway.url;
    for (let i = 0; i < 20; i++) {
      const res = await request(`${gw}/history`, { headers: auth(i) });
      await res.body.dump();
    }
    if ((await breakerState(gw)) !== 0) throw new Error('circuit not closed before the blackhole');
    proxy!.set({ blackhole: true });
    const blackholedAt = performance.now();
    let openedAt: number | undefined;
    let watching = true;
    // /metrics calls no dependency, so it answers while memory hangs.
    const watcher = (async () => {
      while (watching && openedAt === undefined) {
        if ((await breakerState(gw)) === 2) openedAt = performance.now();
        else await sleep(10);
      }
    })();
    const half = Math.max(1, CONNECTIONS >> 1);
    const [history, input] = await Promise.all([
      runLoad({
        url: gw,
        path: '/history',
        connections: half,
        durationS: BLACKHOLE_SECONDS,
        headersFor: auth,
        classify: outcomeOf,
        timeline: true,
        timeoutS: 60,
      }),
      runLoad({
        url: gw,
        method: 'POST',
        path: '/input',
        body: JSON.stringify({ content: 'bench input', metadata: {} }),
        connections: half,
        durationS: BLACKHOLE_SECONDS,
        headersFor: (n) => json(n + half),
        classify: outcomeOf,
        timeline: true,
        timeoutS: 60,
      }),
    ]);
    watching = false;
    await watcher;
    return { history, input, blackholedAt, openedAt };
  } finally {
    await stack.stop();
    await proxy?.close();
  }
}

function split(timeline: Answer[], openedAt: number | undefined) {
  const before = timeline.filter((a) => openedAt === undefined || a.startMs < openedAt);
  const after = openedAt === undefined ? [] : timeline.filter((a) => a.startMs >= openedAt);
  const outcomes = (list: Answer[]) => {
    const m = new Map<string, number>();
    for (const a of list) m.set(a.outcome, (m.get(a.outcome) ?? 0) + 1);
    return [...m.entries()].map(([k, v]) => `${k} ×${v}`).join(', ');
  };
  return {
    before: summarise(before.map((a) => a.endMs - a.startMs)),
    beforeOutcomes: outcomes(before),
    after: summarise(after.map((a) => a.endMs - a.startMs)),
    afterOutcomes: outcomes(after),
  };
}

const part1 = await openCircuitPart();
const part2 = await blackholePart();

const routeStats = ROUTES.map((route) => {
  const runs = part1.results.get(route.name)!;
  const expected = runs.flatMap((r) => r.latencies.get(route.expect) ?? []);
  const s = summarise(expected);
  const seconds = runs.reduce((a, r) => a + r.durationS, 0);
  const unexpected = runs.reduce(
    (a, r) => a + r.total - (r.latencies.get(route.expect)?.length ?? 0) + r.errors,
    0,
  );
  return {
    route,
    s,
    rate: expected.length / seconds,
    unexpected,
    outcomes: runs.map(outcomesOf).join(' | '),
  };
});
const stat = (name: string) => routeStats.find((r) => r.route.name === name)!;
const historyRatio = stat(ROUTES[0]!.name).s.p99 / stat(ROUTES[1]!.name).s.p99;
const inputRatio = stat(ROUTES[2]!.name).s.p99 / stat(ROUTES[3]!.name).s.p99;

printTable(
  `Part 1: memory down, circuit open (${CONNECTIONS} connections, ${ROUNDS}×${SECONDS}s per route)`,
  ['route', 'answer', 'per s', 'p50 ms', 'p99 ms', 'unexpected'],
  routeStats.map((r) => [
    r.route.name,
    r.route.expect,
    round(r.rate, 0),
    round(r.s.p50, 3),
    round(r.s.p99, 3),
    r.unexpected,
  ]),
);
console.log(`p99 GET /history open circuit ÷ its floor: ${round(historyRatio, 2)}x (target ≤ 2x)`);
console.log(
  `p99 POST /input journalled ÷ its floor:    ${round(inputRatio, 2)}x (includes a journal fdatasync)`,
);
console.log(
  `fdatasync of one journal-sized append on this disk: p50 ${round(part1.fsync.p50, 3)} ms, p99 ${round(part1.fsync.p99, 3)} ms; circuit still open at the end: ${part1.stillOpen}`,
);

const h = split(part2.history.timeline, part2.openedAt);
const i = split(part2.input.timeline, part2.openedAt);
const openedAfter = part2.openedAt === undefined ? undefined : part2.openedAt - part2.blackholedAt;
printTable(
  `Part 2: memory blackholed, per-attempt timeout ${TIMEOUT_MS} ms, ${RETRY_MAX_ATTEMPTS} attempts; circuit opened ${openedAfter === undefined ? 'never' : `${round(openedAfter, 0)} ms`} after the blackhole`,
  ['route', 'started', 'n', 'p50 ms', 'p99 ms', 'max ms', 'p99 ÷ timeout', 'answers'],
  [
    [
      'GET /history',
      'before open',
      h.before.count,
      round(h.before.p50, 1),
      round(h.before.p99, 1),
      round(h.before.max, 1),
      round(h.before.p99 / TIMEOUT_MS, 2),
      h.beforeOutcomes,
    ],
    [
      'GET /history',
      'after open',
      h.after.count,
      round(h.after.p50, 2),
      round(h.after.p99, 2),
      round(h.after.max, 1),
      round(h.after.p99 / TIMEOUT_MS, 3),
      h.afterOutcomes,
    ],
    [
      'POST /input',
      'before open',
      i.before.count,
      round(i.before.p50, 1),
      round(i.before.p99, 1),
      round(i.before.max, 1),
      round(i.before.p99 / TIMEOUT_MS, 2),
      i.beforeOutcomes,
    ],
    [
      'POST /input',
      'after open',
      i.after.count,
      round(i.after.p50, 2),
      round(i.after.p99, 2),
      round(i.after.max, 1),
      round(i.after.p99 / TIMEOUT_MS, 3),
      i.afterOutcomes,
    ],
  ],
);

const fig = (s: ReturnType<typeof summarise>) => ({
  n: s.count,
  p50_ms: round(s.p50, 3),
  p99_ms: round(s.p99, 3),
  max_ms: round(s.max, 3),
});
printJson({
  bench: 'failfast',
  connections: CONNECTIONS,
  seconds_per_route: SECONDS,
  rounds: ROUNDS,
  open_circuit: Object.fromEntries(
    routeStats.map((r) => [
      r.route.name,
      { answer: r.route.expect, per_s: round(r.rate, 0), ...fig(r.s), unexpected: r.unexpected },
    ]),
  ),
  ratio_history_p99_open_vs_floor: round(historyRatio, 3),
  ratio_input_p99_journalled_vs_floor: round(inputRatio, 3),
  journal_fdatasync_ms: { p50: round(part1.fsync.p50, 3), p99: round(part1.fsync.p99, 3) },
  circuit_open_throughout: part1.stillOpen,
  blackhole: {
    timeout_ms: TIMEOUT_MS,
    retry_max_attempts: RETRY_MAX_ATTEMPTS,
    circuit_opened_after_ms: openedAfter === undefined ? null : round(openedAfter, 0),
    history_before_open: fig(h.before),
    history_after_open: fig(h.after),
    input_before_open: fig(i.before),
    input_after_open: fig(i.after),
    ratio_history_p99_before_open_vs_timeout: round(h.before.p99 / TIMEOUT_MS, 3),
    ratio_input_p99_before_open_vs_timeout: round(i.before.p99 / TIMEOUT_MS, 3),
  },
  machine: await machineNote(),
});
