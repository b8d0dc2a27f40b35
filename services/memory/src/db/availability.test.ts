import { hasCode } from '@cortex/errors';
import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { DatabaseGate } from './availability';
import type { Database } from './database';

/** A clock whose timers fire only when the test advances it; `random: () => 1` makes the jitter exact. */
function manual() {
  return { clock: new FakeClock(0), random: () => 1 };
}

/** A database whose reachability the test switches; it counts what reaches it. */
function fakeDatabase() {
  const state = { reachable: true, calls: 0, failure: { code: 'ECONNREFUSED', message: 'connect refused' } };
  const answer = async () => {
    state.calls++;
    if (!state.reachable) throw Object.assign(new Error(state.failure.message), { code: state.failure.code });
    return { rows: [], rowCount: 0 };
  };
  const db: Database = {
    kind: 'postgres',
    query: answer as Database['query'],
    exec: async () => {
      await answer();
    },
    transaction: async (fn) => fn({ query: answer as Database['query'], exec: async () => {} }),
    listen: async () => async () => {},
    close: async () => {},
  };
  return { db, state };
}

async function refusal(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(hasCode(err, 'service_unavailable')).toBe(true);
  return err as { retryAfterMs?: number; message: string };
}

describe('DatabaseGate', () => {
  it('lets calls through while the database answers', async () => {
    const { db, state } = fakeDatabase();
    const gate = new DatabaseGate(db, manual());
    expect(await gate.start()).toBe(true); // one probe
    await gate.query('SELECT 1');
    await gate.transaction((tx) => tx.query('SELECT 2'));
    expect(state.calls).toBe(3);
    expect(gate.state).toBe('up');
  });

  it('after a connection failure refuses at once, probes alone with backoff, and recovers', async () => {
    const { clock, random } = manual();
    const { db, state } = fakeDatabase();
    const gate = new DatabaseGate(db, { clock, random, minBackoffMs: 100, maxBackoffMs: 400 });
    await gate.start();

    state.reachable = false;
    await expect(gate.query('SELECT 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(gate.state).toBe('down');
    expect(gate.reason).toBe('unreachable');

    // While down nothing reaches the database: 50 calls, 0 attempts, one probe scheduled.
    const before = state.calls;
    const refused = await Promise.all(Array.from({ length: 50 }, () => refusal(gate.query('SELECT 1'))));
    expect(state.calls).toBe(before);
    expect(gate.stats.fastFailures).toBe(50);
    expect(refused[0]?.retryAfterMs).toBe(100);
    expect(clock.pendingTimers).toBe(1);

    // Failed probes back off 100, 200, 400, 400 … each alone (probes counts start's too).
    const probesAfter = async (ms: number) => {
      await clock.advanceAsync(ms - 1);
      const early = gate.stats.probes;
      await clock.advanceAsync(1);
      return [early, gate.stats.probes];
    };
    expect(await probesAfter(100)).toEqual([1, 2]);
    expect(gate.retryAfterMs).toBe(200);
    expect(await probesAfter(200)).toEqual([2, 3]);
    expect(gate.retryAfterMs).toBe(400);
    expect(await probesAfter(400)).toEqual([3, 4]);
    expect(gate.retryAfterMs).toBe(400);
    expect(gate.stats.probes).toBe(4); // start + 3
    expect(state.calls).toBe(before + 3);

    state.reachable = true;
    expect(await probesAfter(400)).toEqual([4, 5]);
    expect(gate.state).toBe('up');
    expect(clock.pendingTimers).toBe(0);
    await gate.query('SELECT 1');
  });

  it('spreads its probes with jitter, so instances that lost one database do not probe in step', async () => {
    const clock = new FakeClock(0);
    const { db, state } = fakeDatabase();
    const gate = new DatabaseGate(db, { clock, random: () => 0.5, minBackoffMs: 100, maxBackoffMs: 400 });
    await gate.start();
    state.reachable = false;
    await gate.query('SELECT 1').catch(() => {});
    const probes: number[] = [];
    for (let t = 0; t < 1_000; t += 10) {
      const before = gate.stats.probes;
      await clock.advanceAsync(10);
      if (gate.stats.probes > before) probes.push(clock.now());
    }
    // Half of 100, 200, 400, 400, 400 …: full jitter at 0.5.
    expect(probes.slice(0, 4)).toEqual([50, 150, 350, 550]);
    // Retry-After never promises less than the first backoff step.
    expect(gate.retryAfterMs).toBeGreaterThanOrEqual(100);
    await gate.close();
  });

  it('does not take the database out for a slow or bad statement', async () => {
    const { db, state } = fakeDatabase();
    const gate = new DatabaseGate(db, manual());
    await gate.start();
    state.reachable = false;
    state.failure = { code: '57014', message: 'canceling statement due to statement timeout' };
    await expect(gate.query('SELECT pg_sleep(10)')).rejects.toMatchObject({ code: '57014' });
    state.failure = { code: '42P01', message: 'relation does not exist' };
    await expect(gate.query('SELECT * FROM nowhere')).rejects.toMatchObject({ code: '42P01' });
    expect(gate.state).toBe('up');
  });

  it('keeps retrying preparation (migrations) and tells unreachable from migration failure', async () => {
    const { clock, random } = manual();
    const { db, state } = fakeDatabase();
    let migrationBroken = false;
    const changes: string[] = [];
    const gate = new DatabaseGate(db, {
      clock,
      random,
      prepare: async (d) => {
        await d.query('SELECT 1');
        if (migrationBroken) throw Object.assign(new Error('syntax error'), { code: '42601' });
      },
      onChange: (s, reason) => changes.push(`${s}:${reason ?? ''}`),
    });
    state.reachable = false;
    expect(await gate.start()).toBe(false);
    expect(gate.state).toBe('starting');
    expect(gate.reason).toBe('unreachable');
    const err = await refusal(gate.query('SELECT 1'));
    expect(err.message).toMatch(/unavailable/);

    state.reachable = true;
    migrationBroken = true;
    await clock.advanceAsync(100);
    expect(gate.reason).toBe('migration_failed');
    expect((await refusal(gate.exec('SELECT 1'))).message).toMatch(/schema/);

    migrationBroken = false;
    await clock.advanceAsync(200);
    expect(gate.state).toBe('up');
    expect(changes).toEqual(['starting:unreachable', 'starting:migration_failed', 'up:']);
  });

  it('stops probing when closed', async () => {
    const { clock, random } = manual();
    const { db, state } = fakeDatabase();
    const gate = new DatabaseGate(db, { clock, random });
    await gate.start();
    state.reachable = false;
    await gate.query('SELECT 1').catch(() => {});
    expect(clock.pendingTimers).toBe(1);
    await gate.close();
    expect(clock.pendingTimers).toBe(0);
    expect(gate.state).toBe('closed');
    await refusal(gate.query('SELECT 1'));
  });
});
