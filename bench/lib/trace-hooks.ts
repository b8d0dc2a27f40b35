/**
 * The tracing hooks one `POST /input` meets with tracing off, timed against the same work without
 * them (bench:policy prints them; bench:ingest times them in its own run to set beside the CPU the
 * product spent per answer). The hooks are the product's own functions, counted by reading the
 * path (docs/tracing.md, "What it costs"):
 *
 * - per input: `GroupCommitter`'s `tracingOn()` test as the item is queued, in the gateway's
 *   `InputWriter` and in memory's `store_inputs`/`store_input` (2);
 * - per batch: `GroupCommitter.flush`'s test, gateway and memory (2); the network client's
 *   `traceCall` around the policy, `traceAttempts` around the attempt (with its circuit-state
 *   closure, made per call), `traceInstance` and `injectTraceContext` in the attempt (1 each);
 *   memory's statement: none on PostgreSQL (instrumentation-pg is not loaded when off), one
 *   `traceStatement` on PGlite (counted here);
 * - not on the path when off: `@fastify/otel` (never registered), the pino mixin and the
 *   request-logger hook (not installed), `currentTraceparent` (only when an input is journalled).
 *
 * Every per-batch hook is charged to every request, as if each batch carried one input: an upper
 * bound (under load a batch carries tens of inputs).
 */
import { createServicePolicy, systemClock } from '@cortex/resilience';
import { traceAttempts, traceCall, traceInstance } from '../../packages/network-client/src/call-tracing';
import { injectTraceContext, tracingOn } from '../../packages/telemetry/src/index';
import { traceStatement } from '../../services/memory/src/db/statement-span';
import { type Figure, measure, pairedDifference, type Subject } from './interleaved';

const HOUR = 3_600_000;
// The gateway's call to memory: the standard service stack (retry, breaker, timeout).
const policy = createServicePolicy({ timeoutMs: 10_000, breaker: { openMs: HOUR, maxOpenMs: HOUR } });
const ORIGIN = 'http://127.0.0.1:3001';
const SQL = 'SELECT memory_store_inputs($1)';

let sink = 0;
/** `GroupCommitter`'s hook: `tracingOn() ? {…, trace: captureContext()} : {…}` (the same object when off). */
const committerHook = () => {
  if (tracingOn()) sink++;
};
// The work the hooks wrap, as small as it can be so that nothing hides their cost.
const answer = async (headers: Record<string, string>) => headers.authorization?.length ?? 0;
const statement = async () => 1;

const bare: Subject = {
  name: 'POST /input path, no hooks',
  call: async () => {
    await policy.execute(async () => {
      const headers: Record<string, string> = { authorization: 'Bearer t', 'x-request-id': 'r' };
      return answer(headers);
    });
    return statement();
  },
};

const hooked: Subject = {
  name: 'POST /input path, hooks (tracing off)',
  call: async () => {
    committerHook(); // gateway: InputWriter queues the input
    committerHook(); // memory: store_inputs queues it
    committerHook(); // gateway: the batch is flushed
    committerHook(); // memory: the batch is flushed
    await traceCall('memory', 'tool', 'store_input', () =>
      policy.execute(
        traceAttempts(
          'memory',
          () => policy.breaker?.state,
          systemClock,
          async () => {
            traceInstance(ORIGIN);
            const headers: Record<string, string> = { authorization: 'Bearer t', 'x-request-id': 'r' };
            injectTraceContext(headers);
            return answer(headers);
          },
        ),
      ),
    );
    return traceStatement(SQL, statement);
  },
};

export interface HookCost {
  /** ns per request: the path without hooks, with them, and their paired difference. */
  bare: Figure;
  hooked: Figure;
  hooksNs: number;
  /** Quartiles of the per-round differences: what this run could resolve. */
  hooksQ1Ns: number;
  hooksQ3Ns: number;
}

/** Times both subjects in interleaved rounds; refuses to run with tracing on (nothing would be "off"). */
export async function measureTracingOffHooks(options: {
  rounds: number;
  targetMs: number;
}): Promise<HookCost> {
  if (tracingOn()) throw new Error('tracing is on in the bench process: the hooks would not be the off path');
  const figures = await measure([bare, hooked], options);
  const b = figures.get(bare.name)!;
  const h = figures.get(hooked.name)!;
  if (sink !== 0) throw new Error('a hook saw tracing on');
  const d = pairedDifference(h, b);
  return { bare: b, hooked: h, hooksNs: d.median, hooksQ1Ns: d.q1, hooksQ3Ns: d.q3 };
}
