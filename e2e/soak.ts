/**
 * Chaos soak: the whole system under load while faults are injected at random, then healed; at the
 * end every input the gateway accepted must be stored exactly once.
 *
 *   npx tsx --conditions=@cortex/source e2e/soak.ts            (root script: pnpm e2e:soak)
 *
 * PostgreSQL when DATABASE_URL is set or testcontainers can start one (with a fault proxy in front
 * of it too), else PGlite. A fault
 * proxy sits in front of memory. Load: SOAK_USERS users, SOAK_CONCURRENCY concurrent POST /input
 * with Idempotency-Key, one SSE stream per user. Faults, one at a time with quiet gaps: memory
 * SIGKILL + restart, latency past the timeout, connection resets, blackhole, memory proxy down/up,
 * and (postgres) PostgreSQL down/up and slow.
 *
 * Env: SOAK_SECONDS (120), SOAK_FAULTS (only the faults whose names contain these comma-separated words), SOAK_USERS (6), SOAK_CONCURRENCY (8), SOAK_RATE (target requests per
 * second, 100: the load is paced, not a saturation test), SOAK_SEED (random).
 * Exit code 1 when an accepted input is lost or stored twice (or stored for the wrong user).
 */

import { performance } from 'node:perf_hooks';
import { http } from '@cortex/testing';
import { databaseSource } from './harness/database-source';
import { InputLedger, makeUsers, percentile, reconcile, storedInputs, type User } from './harness/ledger';
import { runLoad } from './harness/load';
import { recoveryBoundMs, waitForRecovery } from './harness/recovery';
import { SseRecorder } from './harness/sse-client';
import { primaryMode, System } from './harness/system';

const seconds = Number(process.env.SOAK_SECONDS ?? 120);
const userCount = Number(process.env.SOAK_USERS ?? 6);
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 8);
const rate = Number(process.env.SOAK_RATE ?? 100);
let seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const initialSeed = seed;
// A small seeded generator, so that a failing run can be repeated with SOAK_SEED.
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const between = (lo: number, hi: number) => lo + random() * (hi - lo);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.log(`[soak ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const t0 = performance.now();

const source = await databaseSource();
if (source.url) process.env.DATABASE_URL = source.url;
const database = primaryMode();
const TIMEOUT_MS = 1000;
const system = await System.start({
  database,
  memoryProxy: true,
  databaseProxy: database === 'postgres',
  env: { gateway: { RESILIENCE_MEMORY_TIMEOUT_MS: String(TIMEOUT_MS) } },
});
const gw = system.gateway.url;
const memoryProxy = system.memoryProxy as NonNullable<System['memoryProxy']>;
const dbProxy = system.databaseProxy;
log(
  `system up (${database}); ${seconds} s, ${userCount} users, concurrency ${concurrency}, ~${rate}/s, seed ${initialSeed}`,
);

// Every warning or error the gateway logs, by message and code: what the faults looked like inside.
const gatewayWarnings: Record<string, number> = {};
system.gateway.onLog((line) => {
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; code?: string };
    if ((entry.level ?? 0) < 40) return;
    const key = `${entry.msg}${entry.code ? ` (${entry.code})` : ''}`;
    gatewayWarnings[key] = (gatewayWarnings[key] ?? 0) + 1;
  } catch {}
});

const users = await makeUsers(`soak-${Date.now()}`, userCount);
const streams = await Promise.all(users.map((u) => SseRecorder.open(`${gw}/output/stream?token=${u.token}`)));
const ledger = new InputLedger();

// Degraded time: /health sampled twice a second.
let degradedMs = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const started = performance.now();
    let healthy = false;
    try {
      healthy = (await http('GET', `${gw}/health`)).body?.status === 'healthy';
    } catch {}
    await sleep(500);
    if (!healthy) degradedMs += performance.now() - started;
  }
})();

type Fault = { name: string; inject: () => Promise<void>; heal: () => Promise<void> };
const faults: Fault[] = [
  {
    name: 'memory SIGKILL + restart',
    inject: () => system.memory.kill(),
    heal: async () => {
      await system.memory.start();
    },
  },
  {
    name: 'memory latency past the timeout',
    inject: async () => memoryProxy.set({ latencyMs: between(TIMEOUT_MS, 3 * TIMEOUT_MS) }),
    heal: async () => memoryProxy.set({}),
  },
  {
    name: 'memory latency under the timeout',
    inject: async () => memoryProxy.set({ latencyMs: between(50, TIMEOUT_MS / 3) }),
    heal: async () => memoryProxy.set({}),
  },
  {
    name: 'connection resets',
    inject: async () => memoryProxy.set({ resetPeer: true }),
    heal: async () => memoryProxy.set({}),
  },
  {
    name: 'blackhole',
    inject: async () => memoryProxy.set({ blackhole: true }),
    heal: async () => memoryProxy.set({}),
  },
  { name: 'memory unreachable (proxy down)', inject: () => memoryProxy.down(), heal: () => memoryProxy.up() },
];
if (dbProxy) {
  faults.push(
    { name: 'PostgreSQL down', inject: () => dbProxy.down(), heal: () => dbProxy.up() },
    {
      name: 'PostgreSQL slow',
      inject: async () => dbProxy.set({ latencyMs: between(100, 800) }),
      heal: async () => dbProxy.set({}),
    },
  );
}

// SOAK_FAULTS=blackhole,resets runs only the faults whose names contain one of these words.
const only = process.env.SOAK_FAULTS?.split(',').map((f) => f.trim().toLowerCase());
const chosen = only ? faults.filter((f) => only.some((o) => f.name.toLowerCase().includes(o))) : faults;
if (chosen.length === 0)
  throw new Error(`SOAK_FAULTS matches none of: ${faults.map((f) => f.name).join('; ')}`);
const injected: Record<string, number> = {};
const load = runLoad(ledger, { target: () => gw, users, concurrency, pauseMs: (concurrency / rate) * 1000 });
const end = performance.now() + seconds * 1000;
await sleep(between(2000, 4000));
while (performance.now() < end - 3000) {
  const fault = chosen[Math.floor(random() * chosen.length)] as Fault;
  const holdMs = Math.min(between(2000, 6000), end - performance.now());
  injected[fault.name] = (injected[fault.name] ?? 0) + 1;
  log(`inject: ${fault.name} for ${(holdMs / 1000).toFixed(1)} s (${ledger.answers.length} answers so far)`);
  await fault.inject();
  await sleep(holdMs);
  await fault.heal();
  await sleep(Math.min(between(1500, 4000), Math.max(0, end - performance.now())));
}
await load.stop();
log(`load stopped after ${ledger.answers.length} requests; healing and draining the journal`);

// Heal everything, whatever state the last fault left.
memoryProxy.set({});
await memoryProxy.up();
dbProxy?.set({});
await dbProxy?.up();
if (!system.memory.running) await system.memory.start();
const [probe] = (await makeUsers(`soak-probe-${Date.now()}`, 1)) as [User];
// Progress while the journal drains, so that a stuck replay shows as such.
const progress = setInterval(async () => {
  try {
    const h = await http('GET', `${gw}/health`);
    log(`draining: ${h.body.dependencies.pending_store.items} pending, gateway ${h.body.status}`);
  } catch {}
}, 10_000);
let drainMs: number;
try {
  drainMs = await waitForRecovery(gw, {
    boundMs: recoveryBoundMs({ breakerMaxOpenMs: 2000, workMs: 90_000 }),
    ledger,
    probe,
    what: 'the system after the soak',
  });
} catch (err) {
  clearInterval(progress);
  console.error(String(err));
  console.error(`gateway log tail:\n${system.gateway.logs.slice(-40).join('\n')}`);
  console.error(`memory log tail:\n${system.memory.logs.slice(-15).join('\n')}`);
  await system.stop();
  process.exit(2);
}
clearInterval(progress);
sampling = false;
await sampler;
for (const s of streams) s.close();

const userIds = new Set([...users, probe].map((u) => u.id));
const stored = (await storedInputs(system.memory.url)).filter((s) => userIds.has(s.user_id));
const r = reconcile(ledger.accepted(), stored, userIds);
const latencies = ledger.answers.map((a) => a.latencyMs);
let crossUser = 0;
let streamRepeats = 0;
const missingOnStreams: Record<string, number> = {};
for (const [i, s] of streams.entries()) {
  const mine = s.ofType('input');
  crossUser += mine.filter((e) => e.data.user_id !== users[i]?.id).length;
  const shown = new Set(mine.map((e) => e.data.id));
  streamRepeats += mine.length - shown.size;
  // Streams stay open throughout, so each of the user's accepted inputs should have reached it.
  for (const a of ledger.accepted().values()) {
    if (a.user === users[i]?.id && !shown.has(a.itemId))
      missingOnStreams[a.status] = (missingOnStreams[a.status] ?? 0) + 1;
  }
}
const byStatus = ledger.byStatus();
const report = {
  database,
  seed: initialSeed,
  seconds,
  requests: ledger.answers.length,
  answers_by_status: byStatus,
  accepted: r.accepted,
  stored: r.stored,
  duplicates: r.duplicates,
  lost: r.lost,
  mismatched: r.mismatched,
  stored_not_accepted: r.unknown,
  post_input_latency_ms: {
    p50: Math.round(percentile(latencies, 50)),
    p99: Math.round(percentile(latencies, 99)),
  },
  degraded_seconds: Math.round(degradedMs / 100) / 10,
  drain_ms_after_heal: Math.round(drainMs),
  faults_injected: injected,
  gateway_warnings: gatewayWarnings,
  streams: {
    events: streams.reduce((n, s) => n + s.ofType('input').length, 0),
    cross_user: crossUser,
    repeated: streamRepeats,
    missing_by_answer: missingOnStreams,
  },
};
console.log(JSON.stringify(report, null, 2));
await system.stop();
await source.stop();
const failed = r.lost > 0 || r.duplicates > 0 || r.mismatched > 0 || crossUser > 0;
if (failed) console.error('SOAK FAILED: inputs lost, duplicated, mismatched or delivered to another user');
process.exit(failed ? 1 : 0);
