import { CortexError } from '@cortex/errors';
import type { ServicePolicy } from '@cortex/resilience';
import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import type { AnalysisResult, AnalysisTask, ModelBackend } from './analysis';
import { createBackendPolicy } from './backend-policy';
import { LocalAnalyser } from './local-analyser';
import { type ChainEntry, ModelChain } from './model-chain';

const task: AnalysisTask = { type: 'sentiment', messages: [{ content: 'great', timestamp: 'x' }] };

/** A single-module fake: counts calls and fails or answers as told. */
class FakeBackend implements ModelBackend {
  readonly kind = 'openai' as const;
  calls = 0;
  constructor(
    readonly name: string,
    public fail: CortexError | undefined,
  ) {}
  async analyse(): Promise<AnalysisResult> {
    this.calls++;
    if (this.fail) throw this.fail;
    return { label: 'neutral', score: 0 };
  }
}

function remote(backend: ModelBackend, clock: FakeClock): ChainEntry & { policy: ServicePolicy } {
  const policy = createBackendPolicy(
    { timeoutMs: 1000, failureThreshold: 2, openMs: 10_000 },
    { name: backend.name, clock },
  );
  return { backend, policy, ...(policy.breaker ? { breaker: policy.breaker } : {}) };
}

describe('ModelChain', () => {
  it('skips a failing backend to the next and says which one answered', async () => {
    const clock = new FakeClock(Date.now());
    const bad = new FakeBackend('bad', new CortexError('server_error', 'boom'));
    const good = new FakeBackend('good', undefined);
    const chain = new ModelChain([remote(bad, clock), remote(good, clock), { backend: new LocalAnalyser() }]);
    const outcome = await chain.run(task);
    expect(outcome).toMatchObject({
      ok: true,
      backend: 'good',
      failed: [{ backend: 'bad', error: 'server_error' }],
    });
  });

  it('opens a backend’s circuit after N failures, then stops calling it until a probe is due', async () => {
    const clock = new FakeClock(Date.now());
    const flaky = new FakeBackend('flaky', new CortexError('data_error', 'bad shape'));
    const chain = new ModelChain([remote(flaky, clock), { backend: new LocalAnalyser() }], { clock });
    for (let i = 0; i < 2; i++) expect(await chain.run(task)).toMatchObject({ ok: true, backend: 'local' });
    expect(flaky.calls).toBe(2);
    expect(chain.health()).toMatchObject({ status: 'warning', backends: { flaky: { state: 'open' } } });

    const third = await chain.run(task);
    expect(third).toMatchObject({ backend: 'local', failed: [{ backend: 'flaky', error: 'circuit_open' }] });
    expect(flaky.calls).toBe(2);

    clock.advance(10_000);
    expect(chain.health()).toMatchObject({ status: 'healthy', backends: { flaky: { state: 'half_open' } } });
    flaky.fail = undefined;
    expect(await chain.run(task)).toMatchObject({ backend: 'flaky', failed: [] });
    expect(flaky.calls).toBe(3);
    expect(chain.health()).toMatchObject({ status: 'healthy', backends: { flaky: { state: 'closed' } } });
  });

  it('reports failure when every backend fails, local included', async () => {
    const clock = new FakeClock(Date.now());
    const broken: ModelBackend = {
      name: 'local',
      kind: 'local',
      analyse: async () => {
        throw new Error('cannot happen, but might');
      },
    };
    const a = new FakeBackend('a', new CortexError('timeout', 'slow'));
    const chain = new ModelChain([remote(a, clock), { backend: broken }], { clock });
    expect(await chain.run(task)).toEqual({
      ok: false,
      durationMs: 0,
      failed: [
        { backend: 'a', error: 'timeout' },
        { backend: 'local', error: 'unknown' },
      ],
    });
  });

  it('does not start a remote backend past the caller’s deadline, nor count it against the backend', async () => {
    const clock = new FakeClock(Date.now());
    const a = new FakeBackend('a', undefined);
    const entry = remote(a, clock);
    const chain = new ModelChain([entry, { backend: new LocalAnalyser() }], { clock });
    for (let i = 0; i < 3; i++) {
      expect(await chain.run(task, { deadline: clock.now() })).toMatchObject({ backend: 'local' });
    }
    expect(a.calls).toBe(0);
    expect(entry.breaker?.state).toBe('closed');
  });

  it('stops at the caller’s abort, marking the backend it did not start', async () => {
    const clock = new FakeClock(Date.now());
    const controller = new AbortController();
    const hang: ModelBackend = { name: 'hang', kind: 'openai', analyse: () => new Promise<never>(() => {}) };
    const local = new FakeBackend('after', undefined);
    const chain = new ModelChain([remote(hang, clock), { backend: local }], { clock });
    const outcome = chain.run(task, { signal: controller.signal });
    controller.abort();
    expect(await outcome).toEqual({
      ok: false,
      durationMs: 0,
      failed: [
        { backend: 'hang', error: 'aborted' },
        { backend: 'after', error: 'aborted' },
      ],
    });
    expect(local.calls).toBe(0);
    // Aborted before anything started: only the first is marked.
    expect(await chain.run(task, { signal: controller.signal })).toMatchObject({
      ok: false,
      failed: [{ backend: 'hang', error: 'aborted' }],
    });
  });

  it('is unhealthy only when nothing can answer', async () => {
    const clock = new FakeClock(Date.now());
    const a = new FakeBackend('a', new CortexError('client_error', 'bad key', { status: 401 }));
    const chain = new ModelChain([remote(a, clock)], { clock });
    expect(chain.health().status).toBe('healthy');
    await chain.run(task);
    await chain.run(task);
    expect(chain.health()).toEqual({
      status: 'unhealthy',
      backends: { a: { kind: 'openai', state: 'open' } },
    });
    expect(() => new ModelChain([])).toThrow(RangeError);
  });

  it("gives remote backends the caller's deadline less the answer margin", async () => {
    const seen: (number | undefined)[] = [];
    const backend = new FakeBackend('remote', undefined);
    const chain = new ModelChain([
      {
        backend,
        policy: {
          execute: (fn, _signal, deadline) => {
            seen.push(deadline);
            return fn({ signal: undefined, attempt: 1, deadline });
          },
        },
      },
    ]);
    const deadline = Date.now() + 10_000;
    await chain.run(task, { deadline });
    expect(seen).toEqual([deadline - 300]);
  });

  it("does not hold it against a backend when the caller's deadline cuts it off first", async () => {
    const clock = new FakeClock(Date.now());
    const hang = { ...new FakeBackend('slow', undefined), analyse: () => new Promise<never>(() => {}) };
    const entry = remote(hang as unknown as ModelBackend, clock);
    for (let i = 0; i < 3; i++) {
      const call = entry.policy?.execute(() => hang.analyse(), undefined, clock.now() + 200).catch((e) => e);
      await clock.advanceAsync(210); // the shared timer wheel fires within 5 ms after a deadline
      expect(await call).toMatchObject({ code: 'timeout', details: { kind: 'deadline' } });
    }
    expect(entry.breaker?.state).toBe('closed');
    // Its own timeout (1000 ms here) is another matter: twice, and its circuit opens.
    for (let i = 0; i < 2; i++) {
      const call = entry.policy?.execute(() => hang.analyse()).catch((e) => e);
      await clock.advanceAsync(1010);
      expect(await call).toMatchObject({ code: 'timeout', details: { kind: 'attempt' } });
    }
    expect(entry.breaker?.state).toBe('open');
  });
});
