import { CortexError, hasCode } from '@cortex/errors';
import { capture, FakeClock, rejection } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker';
import type { CircuitBreakerOptions } from './circuit-breaker-options';
import type { ResilienceEvent } from './events';

function setup(options: CircuitBreakerOptions = {}) {
  const clock = new FakeClock(0);
  const breaker = new CircuitBreaker({ clock, ...options });
  const events: ResilienceEvent[] = [];
  breaker.events.on((e) => events.push(e));
  return { clock, breaker, events };
}

const fail = (code: 'server_error' | 'client_error' | 'aborted' = 'server_error') =>
  Promise.reject(new CortexError(code, code));
const ok = async () => 'ok';

async function failTimes(breaker: CircuitBreaker, n: number) {
  for (let i = 0; i < n; i++) await rejection(breaker.execute(() => fail()));
}

/** A call whose outcome the test decides later. */
function held(breaker: CircuitBreaker) {
  let settle!: (ok: boolean) => void;
  const p = capture(
    breaker.execute(
      () =>
        new Promise<string>((resolve, reject) => {
          settle = (good) => (good ? resolve('ok') : reject(new CortexError('server_error', 'x')));
        }),
    ),
  );
  return { p, settle: (good: boolean) => settle(good) };
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, then rejects fast without calling', async () => {
    const { breaker, events } = setup({ failureThreshold: 3, openMs: 1_000 });
    await failTimes(breaker, 2);
    await breaker.execute(ok); // a success resets the run
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    let called = false;
    const err = await rejection(
      breaker.execute(async () => {
        called = true;
      }),
    );
    expect(called).toBe(false);
    expect(hasCode(err, 'circuit_open')).toBe(true);
    expect((err as CortexError).retryAfterMs).toBe(1_000);
    expect(events.map((e) => e.type)).toEqual(['breaker_open', 'breaker_reject']);
  });

  it('does not count client errors or aborts', async () => {
    const { breaker } = setup({ failureThreshold: 2 });
    for (let i = 0; i < 5; i++) {
      await rejection(breaker.execute(() => fail('client_error')));
      await rejection(breaker.execute(() => fail('aborted')));
    }
    expect(breaker.state).toBe('closed');
  });

  it('leaves OPEN by the clock alone (no call needed) and says so', async () => {
    const { clock, breaker, events } = setup({ failureThreshold: 1, openMs: 1_000 });
    await failTimes(breaker, 1);
    clock.advance(999);
    expect(breaker.state).toBe('open');
    expect(breaker.openUntil).toBe(1_000);
    clock.advance(1);
    // The event fires from the clock, so a state gauge is right without traffic.
    expect(events.at(-1)).toEqual({ type: 'breaker_half_open', circuit: 'circuit', from: 'open' });
    expect(breaker.state).toBe('half_open');
  });

  it('lets only the configured number of probes through while half-open, then closes', async () => {
    const { clock, breaker } = setup({
      failureThreshold: 1,
      openMs: 100,
      halfOpenMaxProbes: 2,
      successThreshold: 2,
    });
    await failTimes(breaker, 1);
    clock.advance(100);
    const a = held(breaker);
    const b = held(breaker);
    const err = await rejection(breaker.execute(ok));
    expect(hasCode(err, 'circuit_open')).toBe(true);
    expect(breaker.probesInFlight).toBe(2);
    a.settle(true);
    await a.p.outcome;
    expect(breaker.state).toBe('half_open');
    b.settle(true);
    await b.p.outcome;
    expect(breaker.state).toBe('closed');
    expect(clock.pendingTimers).toBe(0);
  });

  it('moves on by itself when its timers fire early, without any call or state read', async () => {
    const { clock, breaker, events } = setup({
      failureThreshold: 1,
      openMs: 100,
      probeTimeoutMs: 500,
      openBackoffFactor: 1,
    });
    // Timers that fire 2 ms before they are due, as Node's occasionally do against Date.now().
    const onTime = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => onTime(fn, ms > 5 ? ms - 2 : ms);
    const types = () => events.map((e) => e.type);
    await failTimes(breaker, 1);
    clock.advance(60_000);
    expect(types()).toEqual(['breaker_open', 'breaker_half_open']);
    const stuck = held(breaker);
    clock.advance(60_000);
    expect(types()).toEqual(['breaker_open', 'breaker_half_open', 'breaker_open', 'breaker_half_open']);
    expect(breaker.probesInFlight).toBe(0);
    stuck.settle(true);
    await stuck.p.outcome;
    expect(clock.pendingTimers).toBe(0);
  });

  it('a probe that never settles does not wedge HALF_OPEN', async () => {
    const { clock, breaker } = setup({
      failureThreshold: 1,
      openMs: 100,
      probeTimeoutMs: 500,
      openBackoffFactor: 1,
    });
    await failTimes(breaker, 1);
    clock.advance(100);
    const stuck = held(breaker);
    expect(breaker.state).toBe('half_open');
    clock.advance(500);
    expect(breaker.state).toBe('open');
    clock.advance(100);
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    // Its late answer belongs to a finished half-open period and changes nothing.
    stuck.settle(false);
    await stuck.p.outcome;
    expect(breaker.state).toBe('closed');
  });

  it('backs the open period off on failed probes, capped, and starts over after closing', async () => {
    const { clock, breaker, events } = setup({ failureThreshold: 1, openMs: 100, maxOpenMs: 500 });
    await failTimes(breaker, 1);
    for (let i = 0; i < 4; i++) {
      clock.advance(10_000);
      await failTimes(breaker, 1);
    }
    const opens = events.filter((e) => e.type === 'breaker_open').map((e) => e.openMs);
    expect(opens).toEqual([100, 200, 400, 500, 500]);
    clock.advance(500);
    await breaker.execute(ok);
    await failTimes(breaker, 1);
    expect(events.at(-1)).toMatchObject({ type: 'breaker_open', openMs: 100, openings: 1, from: 'closed' });
  });

  it('rate mode waits for the minimum volume, then opens at the threshold', async () => {
    const { clock, breaker } = setup({
      mode: 'rate',
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      windowMs: 1_000,
    });
    await failTimes(breaker, 9);
    expect(breaker.state).toBe('closed');
    // The window slides: those nine failures are forgotten.
    clock.advance(1_000);
    for (let i = 0; i < 6; i++) await breaker.execute(ok);
    await failTimes(breaker, 4);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('closed'); // 5 of 11 < 0.5
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open'); // 6 of 12
  });

  it('counts slow successes as failures', async () => {
    const { clock, breaker } = setup({ failureThreshold: 2, slowCallMs: 100 });
    const slow = async () => {
      clock.advance(150);
      return 'late';
    };
    await expect(breaker.execute(slow)).resolves.toBe('late');
    await breaker.execute(slow);
    expect(breaker.state).toBe('open');
  });

  it('a non-failure error during a probe closes, an abort decides nothing', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1, openMs: 100 });
    await failTimes(breaker, 1);
    clock.advance(100);
    await rejection(breaker.execute(() => fail('aborted')));
    expect(breaker.state).toBe('half_open');
    await rejection(breaker.execute(() => fail('client_error')));
    expect(breaker.state).toBe('closed');
  });

  it('ignores late results from calls admitted under an earlier state', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1, openMs: 100 });
    const old = held(breaker);
    await failTimes(breaker, 1);
    clock.advance(100);
    const probe = held(breaker);
    old.settle(false);
    await old.p.outcome;
    expect(breaker.state).toBe('half_open');
    expect(breaker.probesInFlight).toBe(1);
    probe.settle(true);
    await probe.p.outcome;
    expect(breaker.state).toBe('closed');
  });

  it('evidence of health ends a backed-off open period at once and lets one probe through', async () => {
    const { clock, breaker, events } = setup({ failureThreshold: 1, openMs: 1_000, maxOpenMs: 60_000 });
    await failTimes(breaker, 1);
    for (let i = 0; i < 4; i++) {
      clock.advance(60_000);
      await rejection(breaker.execute(() => fail())); // failed probes back the period off
    }
    expect(breaker.openUntil).toBe(clock.now() + 16_000);
    expect(breaker.evidenceOfHealth()).toBe(true);
    expect(breaker.state).toBe('half_open');
    expect(events.at(-1)).toEqual({
      type: 'breaker_half_open',
      circuit: 'circuit',
      from: 'open',
      evidence: true,
    });
    const probe = held(breaker);
    const other = await rejection(breaker.execute(ok));
    expect(hasCode(other, 'circuit_open')).toBe(true); // still one probe at a time
    expect(breaker.evidenceOfHealth()).toBe(false); // half-open: nothing to end
    probe.settle(true);
    await probe.p.outcome;
    expect(breaker.state).toBe('closed');
    expect(breaker.evidenceOfHealth()).toBe(false);
  });

  it('after evidence, a failed probe opens again with the next backed-off period', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1, openMs: 1_000 });
    await failTimes(breaker, 1);
    clock.advance(10);
    breaker.evidenceOfHealth();
    await rejection(breaker.execute(() => fail()));
    expect(breaker.state).toBe('open');
    expect(breaker.openUntil).toBe(clock.now() + 2_000);
  });

  it('a call admitted before the circuit opened that succeeds later is evidence of health', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1, openMs: 5_000 });
    const slowOk = held(breaker);
    const slowFail = held(breaker);
    await failTimes(breaker, 1);
    clock.advance(100);
    slowFail.settle(false);
    await slowFail.p.outcome;
    expect(breaker.state).toBe('open'); // a late failure decides nothing
    slowOk.settle(true);
    await slowOk.p.outcome;
    expect(breaker.state).toBe('half_open');
  });

  it('a late success slower than slowCallMs is no evidence', async () => {
    const { clock, breaker } = setup({ failureThreshold: 1, openMs: 5_000, slowCallMs: 50 });
    const slow = held(breaker);
    await failTimes(breaker, 1);
    clock.advance(100);
    slow.settle(true);
    await slow.p.outcome;
    expect(breaker.state).toBe('open');
  });

  it('reset() closes by hand', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await failTimes(breaker, 1);
    breaker.reset();
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });
});
