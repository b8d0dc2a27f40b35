/**
 * End-to-end ingest rate: `POST /input` answered `received` per second through gateway → memory →
 * PostgreSQL (real processes), in one run with one load client, against what the same machine does
 * without the product:
 *
 *   1. a fresh database: every target warmed up, the product's table emptied again, then the
 *      **young-table rate** (the first seconds);
 *   2. a **prefill** of BENCH_PREFILL inputs through the product (`POST /input`, not SQL);
 *   3. rounds alternating: the **product**; the **naive peer** (one Fastify process, one INSERT per
 *      request, no auth; lib/naive-peer.ts); **one-row INSERTs** from a pg Pool; the **bare-Fastify
 *      floor** (the same POST answered without a database). The naive peer's table is memory's own
 *      (same migrations, same indexes), grown to the product's row count by one bulk INSERT.
 *
 *   npx tsx --conditions=@cortex/source bench/ingest.ts
 *
 * Env: BENCH_SECONDS (per phase per round, 10), BENCH_ROUNDS (2), BENCH_CONNECTIONS (64),
 * BENCH_WARMUP_SECONDS (5), BENCH_YOUNG_SECONDS (5), BENCH_PREFILL (150000), BENCH_NAIVE_POOL (20),
 * BENCH_CPU_PROF=1 (profile gateway and memory in the rounds; print their hottest frames),
 * BENCH_TRACING=on (a second product with tracing on, exporting OTLP to a receiver in this process
 * that discards, prefilled alike and measured in every round beside the first), DATABASE_URL.
 *
 * After each product round the tracing hooks one input meets with tracing off are timed in this
 * process (lib/trace-hooks.ts) and set beside the product's CPU per answer of the same run.
 * The figures that matter are ratios; the last line of stdout is the result as JSON.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OtlpReceiver, type ServiceProcess, usersWithTokens } from '@cortex/testing';
import { monotonicMicros, profilesIn, summariseProfile, type Window } from './lib/cpu-profile';
import { cpuMeter } from './lib/cpu-usage';
import { DATABASE_URL, envFlag, envNumber, machineNote } from './lib/env';
import { median } from './lib/interleaved';
import { countOf, type LoadResult, outcomesOf, runLoad } from './lib/load';
import { bulkInsert, countRows, inputsTable, rawInsertPhase, truncateInputs } from './lib/pg-raw';
import { printJson, printTable, progress } from './lib/report';
import { benchService, Stack } from './lib/stack';
import { round, summarise } from './lib/stats';
import { type HookCost, measureTracingOffHooks } from './lib/trace-hooks';

const SECONDS = envNumber('BENCH_SECONDS', 10);
const ROUNDS = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 2)));
const CONNECTIONS = Math.max(1, Math.round(envNumber('BENCH_CONNECTIONS', 64)));
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 5);
const YOUNG_SECONDS = envNumber('BENCH_YOUNG_SECONDS', 5);
const PREFILL = Math.round(envNumber('BENCH_PREFILL', 150_000));
const NAIVE_POOL = Math.max(1, Math.round(envNumber('BENCH_NAIVE_POOL', 20)));
const CPU_PROF = envFlag('BENCH_CPU_PROF');
const TRACING = envFlag('BENCH_TRACING');
const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));

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

const users = await usersWithTokens(Math.max(64, CONNECTIONS));
const check = answerChecker();

/** The same POST, the same headers (the peers ignore the token), the same client for every target. */
function post(url: string, seconds: number, amount?: number) {
  return runLoad({
    url,
    method: 'POST',
    path: '/input',
    body: BODY,
    connections: CONNECTIONS,
    durationS: seconds,
    ...(amount === undefined ? {} : { amount }),
    headersFor: (n) => ({
      'content-type': 'application/json',
      authorization: users[n % users.length]!.authorization,
    }),
    classify: check.classify,
  });
}

interface Phase {
  target: 'product' | 'traced' | 'naive' | 'raw' | 'floor';
  round: number;
  rate: number;
  p50?: number;
  p99?: number;
  answers?: string;
  cores: Record<string, number>;
}

const rate = (r: LoadResult) => countOf(r, 'received') / r.durationS;
const rowsPerS = (phases: Phase[]) => phases.reduce((a, p) => a + p.rate, 0) / Math.max(1, phases.length);

/** Mean cores per process over phases, and the CPU milliseconds each spent per row at `perS`. */
function cpuPerRow(phases: Phase[], perS: number) {
  const keys = [...new Set(phases.flatMap((p) => Object.keys(p.cores)))];
  const cores = Object.fromEntries(
    keys.map((k) => [
      k,
      round(phases.reduce((a, p) => a + (p.cores[k] ?? 0), 0) / Math.max(1, phases.length)),
    ]),
  );
  const msPerRow = Object.fromEntries(keys.map((k) => [k, round(((cores[k] ?? 0) * 1000) / perS, 3)]));
  return { cores, msPerRow };
}

const profileDir = CPU_PROF ? mkdtempSync(join(tmpdir(), 'cortex-bench-prof-')) : undefined;
const prof = (name: string) => (profileDir ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, name)] : []);
const peerTable = await inputsTable(DATABASE_URL);
let product: Stack | undefined;
let traced: Stack | undefined;
let receiver: OtlpReceiver | undefined;
const peers: ServiceProcess[] = [];
try {
  progress('starting gateway + memory on a fresh schema, the naive peer and the bare-Fastify floor');
  // With BENCH_TRACING the first product is off whatever OTEL_* the bench was given (an empty
  // OTEL_TRACES_EXPORTER is unset); without it, those variables reach it as before (docs/tracing.md).
  const off: Record<string, string> = TRACING ? { OTEL_TRACES_EXPORTER: '' } : {};
  product = await Stack.start({
    gatewayNodeArgs: prof('gateway'),
    memoryNodeArgs: prof('memory'),
    gatewayEnv: off,
    memoryEnv: off,
  });
  if (TRACING) {
    receiver = await OtlpReceiver.start({ discard: true });
    progress(`starting a second gateway + memory with tracing on (OTLP to ${receiver.url}, discarded)`);
    // The bench's own OTEL_* (protocol, sampler, batch processor) apply; exporter and endpoint are ours.
    const on = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      OTEL_SDK_DISABLED: '',
    };
    traced = await Stack.start({ gatewayEnv: on, memoryEnv: on });
  }
  const naive = benchService('naive', {
    script: { cwd: BENCH_DIR, file: 'lib/naive-peer.ts' },
    env: { NAIVE_MODE: 'naive', DATABASE_URL: peerTable.url, NAIVE_POOL: String(NAIVE_POOL) },
  });
  const floor = benchService('floor', {
    script: { cwd: BENCH_DIR, file: 'lib/naive-peer.ts' },
    env: { NAIVE_MODE: 'floor' },
  });
  peers.push(naive, floor);
  await Promise.all([naive.start(), floor.start()]);
  const productUrl = product.gateway.url;
  const productPids = { gateway: product.gateway.pid, memory: product.memory?.pid, client: process.pid };

  let productReceived = 0;
  const productRuns: LoadResult[] = [];
  const productPhase = async (seconds: number, amount?: number) => {
    const meter = cpuMeter(productPids);
    const r = await post(productUrl, seconds, amount);
    productRuns.push(r);
    productReceived += countOf(r, 'received');
    return { r, cores: meter() };
  };
  const tracedPhase = async (seconds: number, amount?: number) => {
    const meter = cpuMeter({
      gateway: traced?.gateway.pid,
      memory: traced?.memory?.pid,
      client: process.pid,
    });
    const r = await post(traced!.gateway.url, seconds, amount);
    return { r, cores: meter() };
  };
  const hookCosts: HookCost[] = [];

  if (WARMUP_SECONDS > 0) {
    // Every target is warmed up (JIT), and the product's table emptied again after its warm-up,
    // so the young-table rate is a warm process on a fresh table, not a cold one.
    progress(`warm-up ${WARMUP_SECONDS}s each`);
    await post(naive.url, WARMUP_SECONDS);
    await post(floor.url, WARMUP_SECONDS);
    await post(productUrl, WARMUP_SECONDS);
    await truncateInputs(product.databaseUrl!);
    if (traced) await post(traced.gateway.url, WARMUP_SECONDS);
  }
  const youngFromRows = await countRows(product.databaseUrl!);
  progress(`young table (${youngFromRows} rows): ${YOUNG_SECONDS}s`);
  const young = await productPhase(YOUNG_SECONDS);
  const youngRate = rate(young.r);
  const youngLatency = summarise(young.r.latencies.get('received') ?? []);

  const before = await countRows(product.databaseUrl!);
  const prefillStarted = performance.now();
  if (before < PREFILL) {
    progress(`prefill: ${PREFILL - before} inputs through POST /input`);
    await productPhase(3600, PREFILL - before);
  }
  const prefillS = (performance.now() - prefillStarted) / 1000;
  const prefilled = await countRows(product.databaseUrl!);
  // The peers' table gets as many rows, in one statement, so both sides insert into a table this size.
  await bulkInsert(peerTable.url, prefilled);
  if (traced) {
    const tracedRows = await countRows(traced.databaseUrl!);
    if (tracedRows < prefilled) {
      progress(`prefill, tracing on: ${prefilled - tracedRows} inputs through POST /input`);
      await tracedPhase(3600, prefilled - tracedRows);
    }
  }

  const phases: Phase[] = [];
  const windows: Window[] = [];
  for (let roundNo = 1; roundNo <= ROUNDS; roundNo++) {
    progress(`round ${roundNo}/${ROUNDS}: product, ${CONNECTIONS} connections, ${SECONDS}s`);
    const fromUs = monotonicMicros();
    const p = await productPhase(SECONDS);
    windows.push({ fromUs, toUs: monotonicMicros() });
    const pl = summarise(p.r.latencies.get('received') ?? []);
    phases.push({
      target: 'product',
      round: roundNo,
      rate: rate(p.r),
      p50: pl.p50,
      p99: pl.p99,
      answers: outcomesOf(p.r),
      cores: p.cores,
    });
    // The hooks, timed here while the machine is as it was for this round (about a second).
    hookCosts.push(await measureTracingOffHooks({ rounds: 9, targetMs: 40 }));

    if (traced) {
      progress(`round ${roundNo}/${ROUNDS}: product with tracing on`);
      const t = await tracedPhase(SECONDS);
      const tl = summarise(t.r.latencies.get('received') ?? []);
      phases.push({
        target: 'traced',
        round: roundNo,
        rate: rate(t.r),
        p50: tl.p50,
        p99: tl.p99,
        answers: outcomesOf(t.r),
        cores: t.cores,
      });
    }

    progress(`round ${roundNo}/${ROUNDS}: naive Fastify + pg peer`);
    const naiveMeter = cpuMeter({ naive: naive.pid, client: process.pid });
    const n = await post(naive.url, SECONDS);
    const nl = summarise(n.latencies.get('received') ?? []);
    phases.push({
      target: 'naive',
      round: roundNo,
      rate: rate(n),
      p50: nl.p50,
      p99: nl.p99,
      answers: outcomesOf(n),
      cores: naiveMeter(),
    });

    progress(`round ${roundNo}/${ROUNDS}: one-row INSERTs from a pg Pool of ${CONNECTIONS}`);
    const rawMeter = cpuMeter({ client: process.pid });
    const raw = await rawInsertPhase(peerTable.url, CONNECTIONS, SECONDS);
    phases.push({
      target: 'raw',
      round: roundNo,
      rate: raw.rate,
      answers: `${raw.errors} errors`,
      cores: rawMeter(),
    });

    progress(`round ${roundNo}/${ROUNDS}: bare-Fastify floor`);
    const floorMeter = cpuMeter({ floor: floor.pid, client: process.pid });
    const f = await post(floor.url, SECONDS);
    const fl = summarise(f.latencies.get('received') ?? []);
    phases.push({
      target: 'floor',
      round: roundNo,
      rate: rate(f),
      p50: fl.p50,
      p99: fl.p99,
      answers: outcomesOf(f),
      cores: floorMeter(),
    });
  }

  const of = (t: Phase['target']) => phases.filter((p) => p.target === t);
  const productRate = rowsPerS(of('product'));
  const naiveRate = rowsPerS(of('naive'));
  const rawRate = rowsPerS(of('raw'));
  const floorRate = rowsPerS(of('floor'));
  const tracedRate = rowsPerS(of('traced'));
  const perRound = Array.from({ length: ROUNDS }, (_, i) => {
    const at = (t: Phase['target']) => phases.find((p) => p.target === t && p.round === i + 1)?.rate ?? NaN;
    return {
      round: i + 1,
      to_naive: round(at('product') / at('naive'), 3),
      to_raw: round(at('product') / at('raw'), 3),
      to_floor: round(at('product') / at('floor'), 3),
      to_young: round(at('product') / youngRate, 3),
    };
  });

  // Every `received` answer must be exactly one row; autocannon stops with requests in flight,
  // which the product still stores, unseen by us.
  const rows = await countRows(product.databaseUrl!);
  // (+1: the warm-up's stragglers may land after the table was emptied.)
  const inFlightBound = CONNECTIONS * (productRuns.length + (WARMUP_SECONDS > 0 ? 1 : 0));
  const unseen = rows - productReceived;
  const rowsMatch = unseen >= 0 && unseen <= inFlightBound;

  await Promise.all([product.stop(), traced?.stop()]);
  const profiles = profileDir
    ? ['gateway', 'memory'].flatMap((name) =>
        profilesIn(join(profileDir, name)).map((file) => ({ name, ...summariseProfile(file, windows) })),
      )
    : [];

  const lat = (t: Phase['target']) => {
    const ps = of(t).filter((p) => p.p99 !== undefined);
    if (ps.length === 0) return ['', ''];
    return [round(Math.max(...ps.map((p) => p.p50 ?? 0))), round(Math.max(...ps.map((p) => p.p99 ?? 0)))];
  };
  printTable(
    `Ingest (${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS}s; table ${prefilled.toLocaleString('en')} rows after the prefill)`,
    ['target', 'per s', '÷ naive', '÷ raw INSERT', '÷ floor', 'p50 ms', 'p99 ms'],
    [
      [
        `product, young table (${YOUNG_SECONDS}s from ${youngFromRows} rows)`,
        round(youngRate, 0),
        round(youngRate / naiveRate, 3),
        round(youngRate / rawRate, 3),
        round(youngRate / floorRate, 3),
        round(youngLatency.p50),
        round(youngLatency.p99),
      ],
      [
        'product, after the prefill (`received`)',
        round(productRate, 0),
        round(productRate / naiveRate, 3),
        round(productRate / rawRate, 3),
        round(productRate / floorRate, 3),
        ...lat('product'),
      ],
      ...(traced
        ? [
            [
              'product, tracing on (OTLP to a discarding receiver)',
              round(tracedRate, 0),
              round(tracedRate / naiveRate, 3),
              round(tracedRate / rawRate, 3),
              round(tracedRate / floorRate, 3),
              ...lat('traced'),
            ],
          ]
        : []),
      [
        'naive peer: Fastify + pg, one INSERT per request',
        round(naiveRate, 0),
        '1.000',
        round(naiveRate / rawRate, 3),
        round(naiveRate / floorRate, 3),
        ...lat('naive'),
      ],
      [
        `one-row INSERTs, pg Pool of ${CONNECTIONS}`,
        round(rawRate, 0),
        round(rawRate / naiveRate, 3),
        '1.000',
        round(rawRate / floorRate, 3),
        '',
        '',
      ],
      [
        'bare Fastify answering the same POST',
        round(floorRate, 0),
        round(floorRate / naiveRate, 3),
        round(floorRate / rawRate, 3),
        '1.000',
        ...lat('floor'),
      ],
    ],
  );
  console.log(
    `product after the prefill ÷ its young-table rate: ${round(productRate / youngRate, 3)}; prefill took ${round(prefillS, 1)} s`,
  );
  console.log(
    `per round (product ÷ naive, ÷ raw, ÷ floor, ÷ young): ${perRound.map((r) => `${r.to_naive} ${r.to_raw} ${r.to_floor} ${r.to_young}`).join(' | ')}`,
  );
  console.log(
    `rows ${rows} = received ${productReceived} + ${unseen} in flight (≤ ${inFlightBound}): ${rowsMatch ? 'ok' : 'MISMATCH'}; bodies sampled ${check.sampled()}, malformed ${check.malformed()}`,
  );
  for (const p of phases)
    if (p.answers && !/^received ×\d+$/.test(p.answers) && p.answers !== '0 errors')
      console.log(`${p.target} round ${p.round} answers: ${p.answers}`);

  const cpu = {
    product: cpuPerRow(of('product'), productRate),
    ...(traced ? { 'product, tracing on': cpuPerRow(of('traced'), tracedRate) } : {}),
    naive: cpuPerRow(of('naive'), naiveRate),
    raw: cpuPerRow(of('raw'), rawRate),
    floor: cpuPerRow(of('floor'), floorRate),
  };
  // "rest" is the kernel's own time plus whatever else the machine ran (other work on a shared box
  // shows here); "PostgreSQL" is every postgres process on the machine.
  printTable(
    'CPU per answer (ms of one core), and cores used (in brackets), by process',
    ['target', 'gateway', 'memory', 'peer', 'load client', 'PostgreSQL', 'kernel + rest', 'machine cores'],
    Object.entries(cpu).map(([name, c]) => {
      const cell = (k: string) => (c.cores[k] === undefined ? '' : `${c.msPerRow[k]} (${c.cores[k]})`);
      return [
        name,
        cell('gateway'),
        cell('memory'),
        cell('naive') || cell('floor'),
        cell('client'),
        cell('postgres'),
        cell('rest'),
        c.cores.machine ?? '',
      ];
    }),
  );
  // Tracing off: the hooks' ns per request (timed in this process after each product round, the
  // median over those rounds) against the gateway's + memory's CPU per answer of the same rounds.
  const hookNs = median(hookCosts.map((h) => h.hooksNs));
  const hookQuartiles = [
    median(hookCosts.map((h) => h.hooksQ1Ns)),
    median(hookCosts.map((h) => h.hooksQ3Ns)),
  ];
  const productCpuMs = (cpu.product.msPerRow.gateway ?? NaN) + (cpu.product.msPerRow.memory ?? NaN);
  const hookShare = hookNs / (productCpuMs * 1e6);
  console.log(
    `tracing off: the hooks one input meets cost ${round(hookNs, 1)} ns (quartiles ${round(hookQuartiles[0]!, 1)} to ${round(hookQuartiles[1]!, 1)}; ` +
      `per-batch hooks charged per input; timed in the bench process after each product round) = ` +
      `${round(hookShare * 100, 3)}% of the ${round(productCpuMs, 3)} ms of gateway + memory CPU per answer (target ≤ 2%)`,
  );
  const tracedCpuMs = traced
    ? (cpu['product, tracing on']?.msPerRow.gateway ?? NaN) +
      (cpu['product, tracing on']?.msPerRow.memory ?? NaN)
    : NaN;
  const tracing = traced
    ? {
        per_s: round(tracedRate, 0),
        rate_on_over_off: round(tracedRate / productRate, 3),
        cpu_per_answer_ms_on: round(tracedCpuMs, 3),
        cpu_per_answer_ms_off: round(productCpuMs, 3),
        cpu_on_over_off: round(tracedCpuMs / productCpuMs, 3),
        per_round_rate_on_over_off: Array.from({ length: ROUNDS }, (_, i) => {
          const at = (t: Phase['target']) =>
            phases.find((p) => p.target === t && p.round === i + 1)?.rate ?? NaN;
          return round(at('traced') / at('product'), 3);
        }),
        exports: receiver?.exports ?? 0,
        exported_mb: round((receiver?.bytes ?? 0) / 1e6, 1),
        content_types: [...(receiver?.contentTypes ?? [])],
      }
    : undefined;
  if (tracing)
    console.log(
      `tracing on ÷ off (same run, alternating rounds): rate ${tracing.rate_on_over_off} (${tracing.per_s}/s vs ${round(productRate, 0)}/s; ` +
        `rounds ${tracing.per_round_rate_on_over_off.join(', ')}), gateway + memory CPU per answer ${tracing.cpu_on_over_off}× ` +
        `(${tracing.cpu_per_answer_ms_on} vs ${tracing.cpu_per_answer_ms_off} ms); ${tracing.exports} OTLP exports, ` +
        `${tracing.exported_mb} MB (${tracing.content_types.join(', ')})`,
    );
  for (const p of profiles) {
    printTable(
      `CPU profile: ${p.name}, busy ${p.busyPercent}% of the product's rounds (self time, share of busy samples)`,
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
    young: {
      from_rows: youngFromRows,
      seconds: YOUNG_SECONDS,
      per_s: round(youngRate, 0),
      p50_ms: round(youngLatency.p50),
      p99_ms: round(youngLatency.p99),
    },
    prefilled_rows: prefilled,
    prefill_seconds: round(prefillS, 1),
    product_per_s: round(productRate, 0),
    naive_per_s: round(naiveRate, 0),
    raw_insert_per_s: round(rawRate, 0),
    floor_per_s: round(floorRate, 0),
    ratio_to_naive: round(productRate / naiveRate, 3),
    ratio_to_raw_insert: round(productRate / rawRate, 3),
    ratio_to_floor: round(productRate / floorRate, 3),
    ratio_to_young: round(productRate / youngRate, 3),
    per_round: perRound,
    phases: phases.map((p) => ({
      ...p,
      rate: round(p.rate, 0),
      p50: round(p.p50 ?? NaN),
      p99: round(p.p99 ?? NaN),
    })),
    cpu,
    tracing_off_hooks: {
      hooks_ns: round(hookNs, 1),
      quartiles_ns: hookQuartiles.map((q) => round(q, 1)),
      per_round_ns: hookCosts.map((h) => round(h.hooksNs, 1)),
      product_cpu_per_answer_ms: round(productCpuMs, 3),
      share_of_cpu_per_answer: round(hookShare, 6),
    },
    ...(tracing ? { tracing_on: tracing } : {}),
    rows,
    received: productReceived,
    rows_match: rowsMatch,
    sampled_bodies: check.sampled(),
    malformed_bodies: check.malformed(),
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
  await Promise.all([product?.stop(), traced?.stop(), ...peers.map((p) => p.stop())]);
  await receiver?.close();
  await peerTable.drop().catch(() => {});
}
