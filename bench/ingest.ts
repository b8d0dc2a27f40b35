/**
 * End-to-end ingest rate: `POST /input` answered `received` per second, through gateway → memory →
 * PostgreSQL (real processes), beside the rate the same PostgreSQL takes one-row autocommit
 * INSERTs of the same rows at the same concurrency (a pg Pool from Node, and pgbench if present).
 *
 *   npx tsx --conditions=@cortex/source bench/ingest.ts
 *
 * Env: BENCH_SECONDS (per phase per round, default 15), BENCH_ROUNDS (2), BENCH_CONNECTIONS (64),
 * BENCH_WARMUP_SECONDS (3), BENCH_GROUP_COMMIT_OFF=1 (also run memory with GROUP_COMMIT=off),
 * BENCH_CPU_PROF=1 (profile gateway and memory, print their hottest frames), DATABASE_URL.
 * Phases alternate within each round, so drift in machine load hits all of them alike; the
 * figures that matter are the ratios. The last line of stdout is the result as JSON.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monotonicMicros, profilesIn, summariseProfile, type Window } from './lib/cpu-profile';
import { cpuMeter } from './lib/cpu-usage';
import { DATABASE_URL, envFlag, envNumber, machineNote } from './lib/env';
import { countOf, type LoadResult, outcomesOf, runLoad } from './lib/load';
import { countRows, inputsTable, pgbenchPhase, rawInsertPhase } from './lib/pg-raw';
import { printJson, printTable, progress } from './lib/report';
import { Stack } from './lib/stack';
import { round, summarise } from './lib/stats';
import { usersWithTokens } from './lib/tokens';

const SECONDS = envNumber('BENCH_SECONDS', 15);
const ROUNDS = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 2)));
const CONNECTIONS = Math.max(1, Math.round(envNumber('BENCH_CONNECTIONS', 64)));
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 3);
const GROUP_COMMIT_OFF = envFlag('BENCH_GROUP_COMMIT_OFF');
const CPU_PROF = envFlag('BENCH_CPU_PROF');

const BODY = JSON.stringify({ content: 'bench input', metadata: {} });
const RECEIVED = '"status":"received",';

/** Every answer is labelled; every 200th `received` body is also parsed and checked in full. */
function answerChecker() {
  let seen = 0;
  let malformed = 0;
  const classify = (status: number, body: string) => {
    if (status !== 200) return String(status);
    if (!body.includes(RECEIVED)) return /"status":"(\w+)"/.exec(body)?.[1] ?? 'unrecognised';
    if (seen++ % 200 === 0) {
      const b = JSON.parse(body) as { status?: string; item_id?: string; data?: { content?: string } };
      if (
        b.status !== 'received' ||
        !/^[0-9a-f-]{36}$/.test(b.item_id ?? '') ||
        b.data?.content !== 'bench input'
      )
        malformed++;
    }
    return 'received';
  };
  return { classify, sampled: () => Math.ceil(seen / 200), malformed: () => malformed };
}

async function ingestPhase(
  stack: Stack,
  users: { authorization: string }[],
  seconds: number,
  check: ReturnType<typeof answerChecker>,
) {
  return runLoad({
    url: stack.gateway.url,
    method: 'POST',
    path: '/input',
    body: BODY,
    connections: CONNECTIONS,
    durationS: seconds,
    headersFor: (n) => ({
      'content-type': 'application/json',
      authorization: users[n % users.length]!.authorization,
    }),
    classify: check.classify,
  });
}

interface IngestRun {
  label: string;
  stack: Stack;
  check: ReturnType<typeof answerChecker>;
  warmupReceived: number;
  runs: LoadResult[];
  /** When the measured phases ran, to cut start-up out of CPU profiles. */
  windows: Window[];
  /** Cores each process used in each phase (see lib/cpu-usage). */
  cores: Record<string, number>[];
}

async function startIngest(label: string, groupCommit: 'on' | 'off', profileDir: string | undefined) {
  const prof = (name: string) => (profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, name)] : []);
  progress(`starting gateway + memory (GROUP_COMMIT=${groupCommit})`);
  const stack = await Stack.start({
    memoryEnv: { GROUP_COMMIT: groupCommit },
    gatewayNodeArgs: prof('gateway'),
    memoryNodeArgs: prof('memory'),
  });
  const run: IngestRun = {
    label,
    stack,
    check: answerChecker(),
    warmupReceived: 0,
    runs: [],
    windows: [],
    cores: [],
  };
  if (WARMUP_SECONDS > 0) {
    progress(`warm-up ${WARMUP_SECONDS}s`);
    run.warmupReceived = countOf(await ingestPhase(stack, users, WARMUP_SECONDS, run.check), 'received');
  }
  return run;
}

/** Mean cores per process over phases, and the CPU milliseconds each spent per row at `rate`. */
function cpuPerRow(phases: Record<string, number>[], rate: number) {
  const keys = [...new Set(phases.flatMap((p) => Object.keys(p)))];
  const cores = Object.fromEntries(
    keys.map((k) => [k, round(phases.reduce((a, p) => a + (p[k] ?? 0), 0) / Math.max(1, phases.length))]),
  );
  const msPerRow = Object.fromEntries(keys.map((k) => [k, round(((cores[k] ?? 0) * 1000) / rate, 3)]));
  return { cores, msPerRow };
}

const totals = (runs: { n: number; s: number }[]) => {
  const n = runs.reduce((a, r) => a + r.n, 0);
  const s = runs.reduce((a, r) => a + r.s, 0);
  return s > 0 ? n / s : Number.NaN;
};

const users = await usersWithTokens(Math.max(64, CONNECTIONS));
const profileDir = CPU_PROF ? mkdtempSync(join(tmpdir(), 'cortex-bench-prof-')) : undefined;
const raw = await inputsTable(DATABASE_URL);
const ingestRuns: IngestRun[] = [];
const rawRuns: { n: number; s: number; errors: number; cores: Record<string, number> }[] = [];
const pgbenchRuns: { tps: number; transactions: number }[] = [];
let pgbenchNote = '';
try {
  ingestRuns.push(await startIngest('ingest (group commit on)', 'on', profileDir));
  if (GROUP_COMMIT_OFF) ingestRuns.push(await startIngest('ingest (group commit off)', 'off', undefined));
  for (let round = 1; round <= ROUNDS; round++) {
    progress(`round ${round}/${ROUNDS}: raw pg INSERTs, ${CONNECTIONS} connections, ${SECONDS}s`);
    const rawMeter = cpuMeter({ client: process.pid });
    const r = await rawInsertPhase(raw.url, CONNECTIONS, SECONDS);
    rawRuns.push({ n: r.rows, s: r.durationS, errors: r.errors, cores: rawMeter() });
    progress(`round ${round}/${ROUNDS}: pgbench`);
    try {
      const p = await pgbenchPhase(DATABASE_URL, raw.schema, CONNECTIONS, SECONDS);
      if (p) pgbenchRuns.push(p);
      else pgbenchNote = 'pgbench not found';
    } catch (err) {
      pgbenchNote = (err as Error).message.split('\n')[0] ?? 'pgbench failed';
    }
    for (const run of ingestRuns) {
      progress(`round ${round}/${ROUNDS}: ${run.label}, ${CONNECTIONS} connections, ${SECONDS}s`);
      const fromUs = monotonicMicros();
      const meter = cpuMeter({
        gateway: run.stack.gateway.pid,
        memory: run.stack.memory?.pid,
        client: process.pid,
      });
      run.runs.push(await ingestPhase(run.stack, users, SECONDS, run.check));
      run.cores.push(meter());
      run.windows.push({ fromUs, toUs: monotonicMicros() });
    }
  }

  const rawRate = totals(rawRuns);
  const pgbenchTps =
    pgbenchRuns.length > 0 ? pgbenchRuns.reduce((a, p) => a + p.tps, 0) / pgbenchRuns.length : undefined;
  const results = [];
  for (const run of ingestRuns) {
    const received = run.runs.reduce((a, r) => a + countOf(r, 'received'), 0);
    const rate = totals(run.runs.map((r) => ({ n: countOf(r, 'received'), s: r.durationS })));
    const rows = await countRows(run.stack.databaseUrl!);
    // autocannon stops with requests in flight: the gateway still stores them, unseen by us.
    const inFlightBound = CONNECTIONS * (run.runs.length + (WARMUP_SECONDS > 0 ? 1 : 0));
    const unseen = rows - (received + run.warmupReceived);
    const latency = summarise(run.runs.flatMap((r) => r.latencies.get('received') ?? []));
    results.push({
      label: run.label,
      cpu: cpuPerRow(run.cores, rate),
      received_per_s: round(rate, 0),
      ratio_to_raw_pg: round(rate / rawRate, 3),
      ratio_to_pgbench: pgbenchTps ? round(rate / pgbenchTps, 3) : null,
      received,
      other_answers: run.runs.map(outcomesOf).join(' | '),
      p50_ms: round(latency.p50),
      p99_ms: round(latency.p99),
      // Every `received` answer (warm-up included) must be exactly one row.
      db_rows: rows,
      received_incl_warmup: received + run.warmupReceived,
      rows_beyond_received: unseen,
      in_flight_bound: inFlightBound,
      rows_match: unseen >= 0 && unseen <= inFlightBound,
      sampled_bodies: run.check.sampled(),
      malformed_bodies: run.check.malformed(),
      per_round_ratio: run.runs.map((r, i) =>
        round(countOf(r, 'received') / r.durationS / (rawRuns[i]!.n / rawRuns[i]!.s), 3),
      ),
    });
  }

  for (const run of ingestRuns) await run.stack.stop();
  const profiles = profileDir
    ? ['gateway', 'memory'].flatMap((name) =>
        profilesIn(join(profileDir, name)).map((f) => ({
          name,
          ...summariseProfile(f, ingestRuns[0]!.windows),
        })),
      )
    : [];

  printTable(
    `Ingest: POST /input answered "received" vs one-row INSERTs into the same PostgreSQL (${CONNECTIONS} connections, ${ROUNDS}×${SECONDS}s)`,
    ['what', 'per s', '÷ raw pg', 'p50 ms', 'p99 ms', 'notes'],
    [
      [
        'raw pg Pool INSERT (autocommit)',
        round(rawRate, 0),
        '1.000',
        '',
        '',
        `${rawRuns.reduce((a, r) => a + r.errors, 0)} errors`,
      ],
      [
        'pgbench INSERT (-j 2)',
        pgbenchTps === undefined ? '-' : round(pgbenchTps, 0),
        pgbenchTps === undefined ? '-' : round(pgbenchTps / rawRate, 3),
        '',
        '',
        pgbenchNote,
      ],
      ...results.map((r) => [
        r.label,
        r.received_per_s,
        r.ratio_to_raw_pg,
        r.p50_ms,
        r.p99_ms,
        `rows ${r.db_rows} = received ${r.received_incl_warmup} + ${r.rows_beyond_received} in flight (≤ ${r.in_flight_bound}): ${r.rows_match ? 'ok' : 'MISMATCH'}; per round ${r.per_round_ratio.join(', ')}`,
      ]),
    ],
  );
  for (const r of results) if (r.other_answers) console.log(`${r.label} answers: ${r.other_answers}`);
  const rawCpu = cpuPerRow(
    rawRuns.map((r) => r.cores),
    rawRate,
  );
  // "rest" is PostgreSQL plus whatever else the machine ran (other work on a shared box shows here).
  printTable(
    'CPU per stored row (ms of one core) and cores used, by process',
    ['what', 'gateway', 'memory', 'load client', 'PostgreSQL + rest', 'machine cores'],
    [
      [
        'raw pg Pool INSERT',
        '',
        '',
        rawCpu.msPerRow.client ?? '',
        rawCpu.msPerRow.rest ?? '',
        rawCpu.cores.machine ?? '',
      ],
      ...results.map((r) => [
        r.label,
        r.cpu.msPerRow.gateway ?? '',
        r.cpu.msPerRow.memory ?? '',
        r.cpu.msPerRow.client ?? '',
        r.cpu.msPerRow.rest ?? '',
        r.cpu.cores.machine ?? '',
      ]),
    ],
  );
  for (const p of profiles) {
    printTable(
      `CPU profile: ${p.name}, busy ${p.busyPercent}% of the measured phases (self time, share of busy samples)`,
      ['frame', '%'],
      p.topFrames.map((f) => [f.frame, f.percent]),
    );
    printTable(
      `CPU profile: ${p.name} by origin`,
      ['origin', '%'],
      p.byOrigin.map((f) => [f.frame, f.percent]),
    );
  }
  printJson({
    bench: 'ingest',
    connections: CONNECTIONS,
    seconds_per_phase: SECONDS,
    rounds: ROUNDS,
    raw_pg_inserts_per_s: round(rawRate, 0),
    raw_pg_cpu: rawCpu,
    pgbench_tps: pgbenchTps === undefined ? null : round(pgbenchTps, 0),
    ingest: results,
    ratio: results[0]?.ratio_to_raw_pg ?? null,
    cpu_profiles: profiles.map((p) => ({
      process: p.name,
      file: p.file,
      busy_percent: p.busyPercent,
      top: p.topFrames.slice(0, 8),
      by_origin: p.byOrigin.slice(0, 8),
    })),
    machine: await machineNote(),
  });
} finally {
  await Promise.all(ingestRuns.map((r) => r.stack.stop()));
  await raw.drop().catch(() => {});
}
