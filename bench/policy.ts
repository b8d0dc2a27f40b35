/**
 * Per-call overhead of a composed resilience policy: @cortex/resilience vs cockatiel vs opossum.
 *
 *   npx tsx --conditions=@cortex/source bench/policy.ts [--rounds 15] [--ms 250]
 *
 * Success path: retry + circuit breaker + per-attempt timeout around a function that resolves
 * at once (opossum has no retry: breaker with timeout). Failure path: the same stacks with the
 * circuit held open, so every call is rejected by the breaker. Implementations run in
 * interleaved rounds in one process (the order rotates each round) and each figure is the median
 * over rounds (the best round is shown too), so drift in machine load hits all of them alike.
 * Compare the ratios, not absolute figures across runs.
 *
 * Then the tracing hooks (tracing off) one `POST /input` meets, as the product calls them, against
 * the same path without them (lib/trace-hooks.ts), in interleaved rounds: their ns per request, as
 * a share of the policy call and of the CPU the gateway and memory spend per answer
 * (`--cpu-per-answer-ms`, default: bench:ingest's figure in BENCHMARKS.md; bench:ingest prints the
 * same share against its own run's figure). The last line is the result as JSON.
 */
import { createServicePolicy } from '@cortex/resilience';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import Opossum from 'opossum';
import { type Figure, measure as measureRounds, type Subject } from './lib/interleaved';
import { measureTracingOffHooks } from './lib/trace-hooks';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!, process.argv[i + 1] ?? '');
const ROUNDS = Number(args.get('--rounds') ?? 15);
const TARGET_MS = Number(args.get('--ms') ?? 250);
// Gateway + memory CPU per `received` answer, ms of one core: bench:ingest, quiet run (BENCHMARKS.md).
const CPU_PER_ANSWER_MS = Number(args.get('--cpu-per-answer-ms') ?? 0.114);

const value = async () => 1;
const refuse = async (): Promise<number> => {
  throw Object.assign(new Error('down'), { status: 503 });
};
const HOUR = 3_600_000;

// --- ours: the standard service stack with the bulkhead off = retry (with budget) → breaker → timeout.
const ours = createServicePolicy({ timeoutMs: 10_000, breaker: { openMs: HOUR, maxOpenMs: HOUR } });
const oursOpen = createServicePolicy({
  timeoutMs: 10_000,
  retry: { maxRetries: 0 },
  breaker: { failureThreshold: 1, openMs: HOUR, maxOpenMs: HOUR },
});

// --- cockatiel: wrap(retry, circuitBreaker, timeout), as its README composes them. The retry
// must not retry the breaker's own rejection, or the failure path would measure backoff sleeps.
const retriable = handleWhen((err) => !(err instanceof BrokenCircuitError));
const cockatielBreaker = (threshold: number) =>
  circuitBreaker(retriable, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(threshold) });
const cockatielStack = (breaker: ReturnType<typeof cockatielBreaker>) =>
  wrap(
    retry(retriable, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    breaker,
    timeout(10_000, TimeoutStrategy.Aggressive),
  );
const cockatielOk = cockatielStack(cockatielBreaker(5));
const cockatielOpenBreaker = cockatielBreaker(1);
const cockatielOpen = cockatielStack(cockatielOpenBreaker);

// --- opossum: a breaker with its (per-call setTimeout) timeout; it has no retry.
const opossumOptions = {
  timeout: 10_000,
  resetTimeout: HOUR,
  errorThresholdPercentage: 50,
  volumeThreshold: 1,
};
const opossumOk = new Opossum(value, opossumOptions);
const opossumOpen = new Opossum(refuse, opossumOptions);

const swallow = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    () => undefined,
  );

const success: Subject[] = [
  { name: 'baseline (bare fn)', call: value },
  { name: '@cortex/resilience', call: () => ours.execute(value) },
  { name: 'cockatiel', call: () => cockatielOk.execute(value) },
  { name: 'opossum', call: () => opossumOk.fire() },
];
const failure: Subject[] = [
  { name: '@cortex/resilience', call: () => swallow(oursOpen.execute(value)) },
  { name: 'cockatiel', call: () => swallow(cockatielOpen.execute(value)) },
  { name: 'opossum', call: () => swallow(opossumOpen.fire()) },
];

async function openCircuits(): Promise<void> {
  await swallow(oursOpen.execute(refuse));
  await swallow(cockatielOpen.execute(refuse));
  for (let i = 0; i < 3; i++) await swallow(opossumOpen.fire());
  const state = [oursOpen.breaker?.state, cockatielOpenBreaker.state, opossumOpen.opened];
  if (state[0] !== 'open' || state[1] !== CircuitState.Open || !state[2]) {
    throw new Error(`circuits did not open: ${state}`);
  }
}

const measure = (subjects: Subject[]) => measureRounds(subjects, { rounds: ROUNDS, targetMs: TARGET_MS });

function table(title: string, figures: Map<string, Figure>, reference: string): void {
  const ref = figures.get(reference)!.median;
  console.log(`\n${title}`);
  console.log(
    `${'policy'.padEnd(22)} ${'ns/call'.padStart(9)} ${'best'.padStart(8)} ${'ops/s'.padStart(12)} ${'× ours'.padStart(8)}`,
  );
  for (const [name, { median: ns, best }] of figures) {
    const ops = Math.round(1e9 / ns).toLocaleString('en-US');
    console.log(
      `${name.padEnd(22)} ${ns.toFixed(0).padStart(9)} ${best.toFixed(0).padStart(8)} ${ops.padStart(12)} ${(ns / ref).toFixed(2).padStart(8)}`,
    );
  }
}

const t0 = Date.now();
await openCircuits();
const ok = await measure(success);
const open = await measure(failure);
opossumOk.shutdown();
opossumOpen.shutdown();
const hooks = await measureTracingOffHooks({ rounds: ROUNDS, targetMs: TARGET_MS });

const ourName = '@cortex/resilience';
const med = (m: Map<string, Figure>, name: string) => m.get(name)!.median;
const baseline = med(ok, 'baseline (bare fn)');
table(`Success path (retry + breaker + timeout), ${ROUNDS} rounds: median and best ns/call`, ok, ourName);
const over = (name: string) => med(ok, name) - baseline;
console.log(
  `overhead over the bare call (median): ours ${over(ourName).toFixed(0)} ns, ` +
    `cockatiel ${over('cockatiel').toFixed(0)} ns, opossum ${over('opossum').toFixed(0)} ns`,
);
table('Failure path (circuit open, every call rejected)', open, ourName);

const hookShareOfCall = hooks.hooksNs / hooks.bare.median;
const hookShareOfAnswer = hooks.hooksNs / (CPU_PER_ANSWER_MS * 1e6);
console.log('\nTracing off: the hooks one POST /input meets (every per-batch hook charged to the input)');
console.log(`${'path'.padEnd(40)} ${'ns/request'.padStart(10)} ${'best'.padStart(8)}`);
for (const f of [hooks.bare, hooks.hooked])
  console.log(
    `${(f === hooks.bare ? 'policy call + statement, no hooks' : 'the same with the hooks (tracing off)').padEnd(40)} ${f.median.toFixed(0).padStart(10)} ${f.best.toFixed(0).padStart(8)}`,
  );
console.log(
  `hooks: ${hooks.hooksNs.toFixed(1)} ns per request (median of per-round differences; quartiles ` +
    `${hooks.hooksQ1Ns.toFixed(1)} to ${hooks.hooksQ3Ns.toFixed(1)}) = ` +
    `${(hookShareOfCall * 100).toFixed(2)}% of the policy call, ` +
    `${(hookShareOfAnswer * 100).toFixed(3)}% of gateway + memory CPU per answer (${CPU_PER_ANSWER_MS} ms; target ≤ 2%)`,
);
console.log(`\n${((Date.now() - t0) / 1000).toFixed(1)} s, node ${process.version}`);

const round = (x: number) => Math.round(x);
const ratio = (m: Map<string, Figure>, name: string) => +(med(m, name) / med(m, ourName)).toFixed(2);
console.log(
  JSON.stringify({
    bench: 'policy',
    rounds: ROUNDS,
    success_ns: {
      baseline: round(baseline),
      ours: round(med(ok, ourName)),
      cockatiel: round(med(ok, 'cockatiel')),
      opossum: round(med(ok, 'opossum')),
    },
    success_best_ns: {
      baseline: round(ok.get('baseline (bare fn)')!.best),
      ours: round(ok.get(ourName)!.best),
      cockatiel: round(ok.get('cockatiel')!.best),
      opossum: round(ok.get('opossum')!.best),
    },
    success_overhead_ns: {
      ours: round(over(ourName)),
      cockatiel: round(over('cockatiel')),
      opossum: round(over('opossum')),
    },
    open_circuit_ns: {
      ours: round(med(open, ourName)),
      cockatiel: round(med(open, 'cockatiel')),
      opossum: round(med(open, 'opossum')),
    },
    tracing_off_hooks: {
      bare_ns: round(hooks.bare.median),
      hooked_ns: round(hooks.hooked.median),
      hooks_ns: +hooks.hooksNs.toFixed(1),
      hooks_quartiles_ns: [+hooks.hooksQ1Ns.toFixed(1), +hooks.hooksQ3Ns.toFixed(1)],
      share_of_policy_call: +hookShareOfCall.toFixed(4),
      cpu_per_answer_ms: CPU_PER_ANSWER_MS,
      share_of_cpu_per_answer: +hookShareOfAnswer.toFixed(6),
    },
    ratios: {
      cockatiel_over_ours: ratio(ok, 'cockatiel'),
      opossum_over_ours: ratio(ok, 'opossum'),
      open_cockatiel_over_ours: ratio(open, 'cockatiel'),
      open_opossum_over_ours: ratio(open, 'opossum'),
    },
  }),
);
