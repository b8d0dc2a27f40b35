/**
 * SSE at scale on one gateway process: memory per open stream, and delivery latency from
 * `POST /input` to the event arriving on the user's streams.
 *
 *   npx tsx --conditions=@cortex/source bench/sse.ts
 *
 * N streams (default 10,000) over N / PER_USER users are opened from child processes (raw
 * http.get, one socket each). The gateway's RSS and V8 heap in use are read from its /metrics
 * (process_resident_memory_bytes, nodejs_heap_size_used_bytes) after a forced full GC, before and
 * after the streams open; the difference over N is the cost of one stream. Then inputs are posted
 * at a fixed rate to random users, each carrying its send time on the machine's monotonic clock;
 * every stream of that user records the latency when the event arrives (gateway → memory →
 * PostgreSQL → memory's feed → gateway → stream, the path a stored input takes).
 *
 * Env: SSE_CONNECTIONS (10000), SSE_PER_USER (10), SSE_WORKERS (2), SSE_RATE (posts per second,
 * 1000), SSE_POST_CONNECTIONS (256), BENCH_SECONDS (posting time, 20), BENCH_CPU_PROF=1 (profile the gateway while posting),
 * DATABASE_URL. The last line of stdout is the JSON result.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Metrics, tokenFor, usersWithTokens } from '@cortex/testing';
import { Pool, request } from 'undici';
import { monotonicMicros, profilesIn, summariseProfile } from './lib/cpu-profile';
import { cpuMeter } from './lib/cpu-usage';
import { envFlag, envNumber, machineNote } from './lib/env';
import { printJson, printTable, progress } from './lib/report';
import {
  monotonicMs,
  type StreamSpec,
  type WorkerCommand,
  type WorkerReport,
} from './lib/sse-worker-protocol';
import { Stack } from './lib/stack';
import { round, summarise } from './lib/stats';

const N = Math.max(1, Math.round(envNumber('SSE_CONNECTIONS', 10_000)));
const PER_USER = Math.max(1, Math.round(envNumber('SSE_PER_USER', 10)));
const WORKERS = Math.max(1, Math.round(envNumber('SSE_WORKERS', 2)));
const RATE = Math.max(1, envNumber('SSE_RATE', 1000));
const SECONDS = envNumber('BENCH_SECONDS', 20);
const POST_CONNECTIONS = Math.max(1, Math.round(envNumber('SSE_POST_CONNECTIONS', 256)));
const CPU_PROF = envFlag('BENCH_CPU_PROF');
const OPEN_CONCURRENCY = 100;
const USERS = Math.ceil(N / PER_USER);

const GC_PRELOAD = pathToFileURL(fileURLToPath(new URL('./lib/gc-on-signal.mjs', import.meta.url))).href;
const WORKER = fileURLToPath(new URL('./lib/sse-worker.ts', import.meta.url));

class Worker {
  private readonly child: ChildProcess;
  constructor() {
    // The parent's execArgv carries tsx's loader, so the worker's TypeScript runs as is.
    this.child = fork(WORKER, { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  async ask<T extends WorkerReport['type']>(command: WorkerCommand, reply: T) {
    const answer = new Promise<Extract<WorkerReport, { type: T }>>((resolve, reject) => {
      const onMessage = (m: WorkerReport) => {
        if (m.type !== reply) return;
        this.child.off('message', onMessage);
        resolve(m as Extract<WorkerReport, { type: T }>);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', (code) => reject(new Error(`SSE worker exited (${code})`)));
    });
    this.child.send(command);
    return answer;
  }
  get pid() {
    return this.child.pid;
  }
  async close() {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'close' } satisfies WorkerCommand);
    await Promise.race([exited, sleep(5000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Live memory of the gateway: a full GC first (SIGUSR2 → gc()), then its own metrics. */
async function gatewayMemory(stack: Stack) {
  stack.gateway.signal('SIGUSR2');
  await sleep(1000);
  const metrics = await Metrics.scrape(stack.gateway.url);
  return {
    rss: metrics.first('process_resident_memory_bytes'),
    heap: metrics.first('nodejs_heap_size_used_bytes'),
  };
}

/** Open streams as the gateway counts them (its /health/details `streams` entry). */
async function gatewayStreamCount(stack: Stack) {
  const res = await request(`${stack.gateway.url}/health/details`, {
    headers: { authorization: `Bearer ${await tokenFor('sse-bench-health')}` },
  });
  const body = (await res.body.json()) as { dependencies?: { streams?: { connections?: number } } };
  return body.dependencies?.streams?.connections ?? -1;
}

/** Posts `sse-bench <seq> <sent-at>` to random users at RATE per second for SECONDS. */
async function postAtRate(gatewayUrl: string, users: { authorization: string }[]) {
  // Many connections, as many clients would use: a small pool would queue posts on our side and
  // measure the pool rather than the gateway.
  const pool = new Pool(gatewayUrl, { connections: POST_CONNECTIONS });
  const total = Math.round(RATE * SECONDS);
  const userOf: number[] = [];
  const answers = new Map<string, number>();
  const postLatencies: number[] = [];
  /** By seq: how long after sending its POST was answered. */
  const answeredAfter: number[] = [];
  const inflight: Promise<void>[] = [];
  const started = monotonicMs();
  for (let seq = 0; seq < total; seq++) {
    const due = started + (seq * 1000) / RATE;
    const wait = due - monotonicMs();
    if (wait > 1) await sleep(wait);
    const user = Math.floor(Math.random() * users.length);
    userOf.push(user);
    const sentAt = monotonicMs();
    inflight.push(
      pool
        .request({
          path: '/input',
          method: 'POST',
          headers: { authorization: users[user]!.authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ content: `sse-bench ${seq} ${sentAt.toFixed(3)}` }),
        })
        .then(async (res) => {
          const body = (await res.body.json()) as { status?: string; error?: { code?: string } };
          const key = `${res.statusCode} ${body.status ?? body.error?.code ?? ''}`;
          answers.set(key, (answers.get(key) ?? 0) + 1);
          const took = monotonicMs() - sentAt;
          postLatencies.push(took);
          answeredAfter[seq] = took;
        })
        .catch((err: Error) => {
          answers.set(err.message, (answers.get(err.message) ?? 0) + 1);
        }),
    );
  }
  await Promise.all(inflight);
  const seconds = (monotonicMs() - started) / 1000;
  await pool.close();
  return { total, userOf, answers, postLatencies, answeredAfter, seconds };
}

progress(`signing ${USERS} tokens`);
const users = await usersWithTokens(USERS, 'sse-user');
const profileDir = CPU_PROF ? mkdtempSync(join(tmpdir(), 'cortex-bench-prof-')) : undefined;
progress('starting gateway + memory');
const stack = await Stack.start({
  gatewayEnv: { SSE_MAX_CONNECTIONS_PER_USER: String(PER_USER), SSE_MAX_CONNECTIONS: String(N + 100) },
  gatewayNodeArgs: [
    '--expose-gc',
    '--import',
    GC_PRELOAD,
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
  ],
});
const workers = Array.from({ length: WORKERS }, () => new Worker());

/** Waits until every expected delivery arrived, or none arrived for 3 s (60 s at most). */
async function drain(expected: number) {
  const started = monotonicMs();
  let last = -1;
  let still = 0;
  while (monotonicMs() - started < 60_000) {
    const counts = await Promise.all(workers.map((w) => w.ask({ type: 'count' }, 'counted')));
    const total = counts.reduce((a, c) => a + c.deliveries, 0);
    if (total >= expected) break;
    still = total === last ? still + 1 : 0;
    if (still >= 6) break;
    last = total;
    await sleep(500);
  }
  return (monotonicMs() - started) / 1000;
}
try {
  // Warm the paths (JIT, pools, the feed) so the baseline is not a cold process.
  for (let i = 0; i < 50; i++) {
    const res = await request(`${stack.gateway.url}/input`, {
      method: 'POST',
      headers: { authorization: users[i % USERS]!.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'warm-up' }),
    });
    await res.body.dump();
  }
  const before = await gatewayMemory(stack);

  // Stream i belongs to user ⌊i / PER_USER⌋; streams are dealt to workers in turn.
  const shares: StreamSpec[][] = Array.from({ length: WORKERS }, () => []);
  for (let i = 0; i < N; i++) {
    const u = users[Math.floor(i / PER_USER)]!;
    shares[i % WORKERS]!.push({
      user: `sse-user-${Math.floor(i / PER_USER)}`,
      authorization: u.authorization,
    });
  }
  progress(`opening ${N} streams (${USERS} users × ${PER_USER}) from ${WORKERS} processes`);
  const opened = await Promise.all(
    workers.map((w, k) =>
      w.ask(
        { type: 'open', url: stack.gateway.url, streams: shares[k]!, concurrency: OPEN_CONCURRENCY },
        'opened',
      ),
    ),
  );
  const established = opened.reduce((a, o) => a + o.established, 0);
  const failures = [...new Set(opened.flatMap((o) => o.failures))];
  await sleep(1000);
  const hubSize = await gatewayStreamCount(stack);
  const after = await gatewayMemory(stack);
  const rssPer = (after.rss - before.rss) / Math.max(1, established);
  const heapPer = (after.heap - before.heap) / Math.max(1, established);
  progress(`${established} open (gateway counts ${hubSize}); posting ${RATE}/s for ${SECONDS}s`);

  const meter = cpuMeter({
    gateway: stack.gateway.pid,
    memory: stack.memory?.pid,
    poster: process.pid,
    ...Object.fromEntries(workers.map((w, k) => [`clients ${k + 1}`, w.pid])),
  });
  const fromUs = monotonicMicros();
  const posted = await postAtRate(stack.gateway.url, users);
  const streamsOf = (user: number) => Math.max(0, Math.min(PER_USER, N - user * PER_USER));
  const expected = posted.userOf.reduce((a, u) => a + streamsOf(u), 0);
  const drainSeconds = await drain(expected);
  const toUs = monotonicMicros();
  const cores = meter();
  const collected = await Promise.all(workers.map((w) => w.ask({ type: 'collect' }, 'collected')));
  const latencies = collected.flatMap((c) => c.latencies);
  const delivery = summarise(latencies);
  // The slowest of a user's streams for each post: when the user has it everywhere.
  const lastStream = new Map<number, number>();
  for (const c of collected)
    c.seqs.forEach((seq, i) => {
      lastStream.set(seq, Math.max(lastStream.get(seq) ?? 0, c.latencies[i]!));
    });
  const allStreams = summarise([...lastStream.values()]);
  // Arrival after the POST's own answer: the fan-out alone (feed → hub → socket), without the
  // queueing a saturated POST path adds. Negative when the event beat the HTTP answer.
  const fanOut = summarise(
    collected.flatMap((c) =>
      c.seqs.flatMap((seq, i) => {
        const answered = posted.answeredAfter[seq];
        return answered === undefined ? [] : [c.latencies[i]! - answered];
      }),
    ),
  );
  const closedEarly = collected.reduce((a, c) => a + c.closedEarly, 0);
  const post = summarise(posted.postLatencies);
  const memAfterLoad = await gatewayMemory(stack);
  await Promise.all(workers.map((w) => w.close()));
  await stack.stop();
  // The profile is written when the gateway exits; only the posting phase is summarised.
  const profile = profileDir
    ? profilesIn(profileDir).map((f) => summariseProfile(f, [{ fromUs, toUs }]))[0]
    : undefined;

  printTable(
    `SSE: ${established}/${N} streams on one gateway (${USERS} users × ${PER_USER})`,
    ['figure', 'value', 'target'],
    [
      ['streams open (gateway count)', `${established} (${hubSize})`, ''],
      ['RSS per stream', `${round(rssPer / 1024, 2)} KB`, '≤ 16 KB'],
      ['V8 heap used per stream', `${round(heapPer / 1024, 2)} KB`, ''],
      ['RSS before → after (MB)', `${round(before.rss / 2 ** 20, 1)} → ${round(after.rss / 2 ** 20, 1)}`, ''],
      [
        'heap before → after (MB)',
        `${round(before.heap / 2 ** 20, 1)} → ${round(after.heap / 2 ** 20, 1)}`,
        '',
      ],
      ['posts (answers)', [...posted.answers.entries()].map(([k, v]) => `${k} ×${v}`).join(', '), ''],
      ['posts per s (offered / achieved)', `${RATE} / ${round(posted.total / posted.seconds, 0)}`, ''],
      ['POST /input p50 / p99', `${round(post.p50, 1)} / ${round(post.p99, 1)} ms`, ''],
      ['deliveries (received / expected)', `${delivery.count} / ${expected}`, ''],
      [
        'delivery p50 / p99 / max (each stream)',
        `${round(delivery.p50, 1)} / ${round(delivery.p99, 1)} / ${round(delivery.max, 1)} ms`,
        'p99 ≤ 50 ms',
      ],
      [
        'delivery p50 / p99 (all of a user’s streams)',
        `${round(allStreams.p50, 1)} / ${round(allStreams.p99, 1)} ms`,
        '',
      ],
      [
        'delivery after the POST was answered p50 / p99',
        `${round(fanOut.p50, 1)} / ${round(fanOut.p99, 1)} ms`,
        '',
      ],
      ['waited for late deliveries', `${round(drainSeconds, 1)} s`, ''],
      [
        'cores used while posting',
        Object.entries(cores)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        '',
      ],
      ['streams closed by the gateway', closedEarly, '0'],
      ['open failures', failures.length === 0 ? '0' : `${N - established}: ${failures.join('; ')}`, '0'],
    ],
  );
  if (profile) {
    printTable(
      `CPU profile: gateway while posting, busy ${profile.busyPercent}% (self time, share of busy samples)`,
      ['frame', '%'],
      profile.topFrames.map((f) => [f.frame, f.percent]),
    );
    printTable(
      'CPU profile: gateway by origin',
      ['origin', '%'],
      profile.byOrigin.map((f) => [f.frame, f.percent]),
    );
  }
  printJson({
    bench: 'sse',
    connections: N,
    established,
    gateway_count: hubSize,
    users: USERS,
    per_user: PER_USER,
    rss_per_connection_bytes: Math.round(rssPer),
    heap_per_connection_bytes: Math.round(heapPer),
    rss_before_bytes: before.rss,
    rss_after_bytes: after.rss,
    heap_before_bytes: before.heap,
    heap_after_bytes: after.heap,
    rss_after_load_bytes: memAfterLoad.rss,
    open_seconds: round(Math.max(...opened.map((o) => o.seconds)), 2),
    post_rate_offered: RATE,
    post_rate_achieved: round(posted.total / posted.seconds, 0),
    post_answers: Object.fromEntries(posted.answers),
    post_p50_ms: round(post.p50, 2),
    post_p99_ms: round(post.p99, 2),
    deliveries: delivery.count,
    deliveries_expected: expected,
    delivery_p50_ms: round(delivery.p50, 2),
    delivery_p99_ms: round(delivery.p99, 2),
    delivery_max_ms: round(delivery.max, 2),
    delivery_all_streams_p50_ms: round(allStreams.p50, 2),
    delivery_all_streams_p99_ms: round(allStreams.p99, 2),
    delivery_after_post_answer_p50_ms: round(fanOut.p50, 2),
    delivery_after_post_answer_p99_ms: round(fanOut.p99, 2),
    drain_seconds: round(drainSeconds, 2),
    cores_while_posting: cores,
    closed_by_gateway: closedEarly,
    open_failures: N - established,
    gateway_profile: profile
      ? {
          file: profile.file,
          busy_percent: profile.busyPercent,
          top: profile.topFrames.slice(0, 8),
          by_origin: profile.byOrigin.slice(0, 8),
        }
      : null,
    machine: await machineNote(),
  });
} finally {
  await Promise.all(workers.map((w) => w.close()));
  await stack.stop();
}
