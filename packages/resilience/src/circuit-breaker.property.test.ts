import { CortexError, type ErrorCode } from '@cortex/errors';
import { FakeClock, flush } from '@cortex/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker';
import { wrap } from './compose';
import type { BreakerState } from './events';
import { TimeoutPolicy } from './timeout';

const configArb = fc.record({
  mode: fc.constantFrom('consecutive' as const, 'rate' as const),
  failureThreshold: fc.integer({ min: 1, max: 3 }),
  failureRateThreshold: fc.constantFrom(0.25, 0.5, 1),
  minimumCalls: fc.integer({ min: 1, max: 4 }),
  windowMs: fc.constantFrom(500, 5_000),
  openMs: fc.integer({ min: 1, max: 2_000 }),
  maxOpenMs: fc.integer({ min: 2_000, max: 8_000 }),
  openBackoffFactor: fc.constantFrom(1, 2, 3),
  halfOpenMaxProbes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  probeTimeoutMs: fc.integer({ min: 1, max: 3_000 }),
  slowCallMs: fc.option(fc.integer({ min: 1, max: 1_000 }), { nil: undefined }),
  // Without timers the state must still follow the clock (reads and calls re-evaluate it).
  timersRun: fc.boolean(),
  // Through `wrap(breaker, timeout)`, which fuses the two into one layer, or the breaker alone.
  fusedTimeoutMs: fc.option(fc.constantFrom(0, 5_000), { nil: undefined }),
});

/** A clock whose timers never fire, like a process too busy to run them. */
class StalledClock extends FakeClock {
  override setTimeout(): number {
    return 0;
  }
  override clearTimeout(): void {}
}

const opArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('call' as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick: fc.nat(),
      // Failures dominate so that runs reach OPEN and HALF_OPEN often, where the bugs live.
      outcome: fc.constantFrom<'ok' | ErrorCode>(
        'ok',
        'ok',
        'ok',
        'server_error',
        'server_error',
        'server_error',
        'timeout',
        'client_error',
        'aborted',
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  },
  // A health check that succeeded.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('evidence' as const) }) },
);

describe('CircuitBreaker state machine (property-based)', () => {
  it('keeps its invariants under random traffic, outcomes and time', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.array(opArb, { minLength: 10, maxLength: 80 }), async (config, ops) => {
        const { timersRun, fusedTimeoutMs, ...options } = config;
        const clock = timersRun ? new FakeClock(0) : new StalledClock(0);
        const breaker = new CircuitBreaker({ ...options, clock });
        const policy =
          fusedTimeoutMs === undefined
            ? breaker
            : wrap(breaker, new TimeoutPolicy({ timeoutMs: fusedTimeoutMs, clock }));
        const violations: string[] = [];
        // The state as the events tell it, and when the current open period ends.
        let model: BreakerState = 'closed';
        let openUntil = Number.NEGATIVE_INFINITY;
        const probes = new Set<number>();
        breaker.events.on((e) => {
          if (e.type === 'breaker_open') {
            model = 'open';
            openUntil = clock.now() + e.openMs;
            probes.clear();
          } else if (e.type === 'breaker_half_open') {
            // Only evidence of health ends an open period early.
            if (clock.now() < openUntil && !e.evidence)
              violations.push(`half-open at ${clock.now()} < ${openUntil}`);
            model = 'half_open';
            probes.clear();
          } else if (e.type === 'breaker_close') {
            model = 'closed';
            probes.clear();
          }
        });
        const pending: { id: number; settle: (outcome: 'ok' | ErrorCode) => void }[] = [];
        let nextId = 0;
        for (const op of ops) {
          if (op.kind === 'call') {
            const id = nextId++;
            const done = () => probes.delete(id);
            policy
              .execute(() => {
                if (model === 'open') violations.push(`call let through while open at ${clock.now()}`);
                if (model === 'half_open') {
                  probes.add(id);
                  if (probes.size > config.halfOpenMaxProbes) violations.push(`${probes.size} probes`);
                }
                return new Promise<void>((resolve, reject) => {
                  pending.push({
                    id,
                    settle: (o) => (o === 'ok' ? resolve() : reject(new CortexError(o, o))),
                  });
                });
              })
              .then(done, done);
          } else if (op.kind === 'settle' && pending.length > 0) {
            const [p] = pending.splice(op.pick % pending.length, 1);
            p!.settle(op.outcome);
            await flush();
          } else if (op.kind === 'evidence') {
            const before = breaker.state;
            const moved = breaker.evidenceOfHealth();
            if (moved !== (before === 'open')) violations.push(`evidence moved=${moved} from ${before}`);
            if (breaker.state === 'open') violations.push('still open after evidence of health');
          } else if (op.kind === 'advance') {
            clock.advance(op.ms);
            const state = breaker.state;
            if (state !== model) violations.push(`state ${state} but events say ${model}`);
            if (state === 'open' && clock.now() >= openUntil) violations.push('still open after openUntil');
          }
        }
        expect(violations).toEqual([]);

        // Once the dependency recovers, the breaker closes.
        for (const p of pending.splice(0)) p.settle('ok');
        await flush();
        clock.advance(config.maxOpenMs + config.probeTimeoutMs + 1);
        for (let i = 0; i <= config.successThreshold && breaker.state !== 'closed'; i++) {
          await policy.execute(async () => {});
        }
        expect(breaker.state).toBe('closed');
      }),
      { numRuns: 400 },
    );
  });
});
