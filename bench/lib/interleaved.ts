/**
 * In-process micro-measurement in interleaved rounds (bench:policy, and the tracing hooks timed by
 * bench:ingest): every subject runs once per round, the order rotating each round, so drift in the
 * machine's load hits all of them alike. Figures are ns per call.
 */

type Call = () => Promise<unknown>;
export interface Subject {
  name: string;
  call: Call;
}

export interface Figure {
  median: number;
  best: number;
  /** ns per call in each round, in round order (for paired differences between subjects). */
  samples: number[];
}

async function run(call: Call, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  return Number(process.hrtime.bigint() - start) / n;
}

/** Calls per measurement so that one lasts about `targetMs`; measured twice, the first is warm-up. */
async function calibrate(call: Call, targetMs: number): Promise<number> {
  let size = 1_000;
  for (let pass = 0; pass < 2; pass++) {
    let n = 1_000;
    for (;;) {
      const ns = await run(call, n);
      if (ns * n >= Math.min(20e6, targetMs * 1e6)) {
        size = Math.max(1_000, Math.round((targetMs * 1e6) / ns));
        break;
      }
      n *= 4;
    }
  }
  return size;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const breathe = () => new Promise((r) => setImmediate(r));

export async function measure(
  subjects: Subject[],
  options: { rounds: number; targetMs: number },
): Promise<Map<string, Figure>> {
  const sizes = new Map<string, number>();
  for (const s of subjects) sizes.set(s.name, await calibrate(s.call, options.targetMs)); // also the warm-up
  const samples = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < subjects.length; k++) {
      const s = subjects[(round + k) % subjects.length]!;
      samples.get(s.name)!.push(await run(s.call, sizes.get(s.name)!));
      await breathe(); // let timers and GC run outside the measured window
    }
  }
  return new Map(
    [...samples].map(([name, xs]) => [name, { median: median(xs), best: Math.min(...xs), samples: xs }]),
  );
}

/**
 * (a − b) within each round, the cost `a` adds to `b` paired by round: the median over rounds, and
 * the lower and upper quartiles (their spread is what the measurement can resolve).
 */
export function pairedDifference(a: Figure, b: Figure): { median: number; q1: number; q3: number } {
  const d = a.samples.map((x, i) => x - (b.samples[i] ?? Number.NaN)).sort((x, y) => x - y);
  const at = (q: number) => d[Math.min(d.length - 1, Math.floor(q * d.length))]!;
  return { median: at(0.5), q1: at(0.25), q3: at(0.75) };
}
