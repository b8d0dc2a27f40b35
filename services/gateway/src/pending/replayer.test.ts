import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CortexError } from '@cortex/errors';
import { FakeClock } from '@cortex/testing';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type PendingItem, PendingJournal } from './journal';
import { PendingReplayer } from './replayer';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const item = (n: number): PendingItem => ({
  item_id: `i-${n}`,
  user_id: 'u',
  data: { content: `c${n}`, conversation_id: null, timestamp: '2026-01-01T00:00:00.000Z', metadata: {} },
});

async function setup(store: (item: PendingItem) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'replayer-'));
  dirs.push(dir);
  const journal = await PendingJournal.open(dir, { maxItems: 100, maxBytes: 1 << 20 });
  const clock = new FakeClock(1_000_000);
  const replayer = new PendingReplayer(journal, {
    store: (i) => store(i),
    log: Fastify({ logger: false }).log,
    clock,
    random: () => 1,
    baseDelayMs: 100,
    maxDelayMs: 100,
  });
  return { journal, clock, replayer };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('PendingReplayer', () => {
  it('never comes back before the Retry-After memory gave, then stores and forgets the item', async () => {
    const calls: number[] = [];
    let refuse = true;
    const { journal, clock, replayer } = await setup(async () => {
      calls.push(clock.now());
      if (refuse) {
        refuse = false;
        throw new CortexError('service_unavailable', 'busy', { retryAfterMs: 1000 });
      }
    });
    await journal.append(item(1));
    replayer.start();
    replayer.kick();
    await settle();
    expect(calls).toEqual([1_000_000]);
    clock.advance(999);
    await settle();
    expect(calls).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(calls).toEqual([1_000_000, 1_001_000]);
    expect(journal.size).toBe(0);
    expect(replayer.stored).toBe(1);
    await replayer.stop();
    await journal.close();
  });

  it('honours the Retry-After the client request got before journalling', async () => {
    const calls: number[] = [];
    const { journal, clock, replayer } = await setup(async () => {
      calls.push(clock.now());
    });
    replayer.start();
    await journal.append(item(2));
    replayer.kick(500);
    await settle();
    expect(calls).toEqual([]);
    clock.advance(500);
    await settle();
    expect(calls).toEqual([1_000_500]);
    await replayer.stop();
    await journal.close();
  });

  it('drops an input memory rejects as invalid instead of blocking the rest', async () => {
    const { journal, replayer } = await setup(async (i) => {
      if (i.item_id === 'i-3') throw new CortexError('invalid_request', 'bad');
    });
    await journal.append(item(3));
    await journal.append(item(4));
    replayer.start();
    await settle();
    expect(journal.size).toBe(0);
    expect([replayer.stored, replayer.dropped]).toEqual([1, 1]);
    await replayer.stop();
    await journal.close();
  });

  it("an open circuit's remaining period is no Retry-After; memory seen back ends the backoff at once", async () => {
    const calls: number[] = [];
    let down = true;
    const dir = mkdtempSync(join(tmpdir(), 'replayer-'));
    dirs.push(dir);
    const journal = await PendingJournal.open(dir, { maxItems: 100, maxBytes: 1 << 20 });
    const clock = new FakeClock(1_000_000);
    const replayer = new PendingReplayer(journal, {
      store: async () => {
        calls.push(clock.now());
        if (down) throw new CortexError('circuit_open', 'circuit open', { retryAfterMs: 60_000 });
      },
      log: Fastify({ logger: false }).log,
      clock,
      random: () => 1,
      baseDelayMs: 10_000,
      maxDelayMs: 10_000,
    });
    for (let i = 0; i < 5; i++) await journal.append(item(i));
    replayer.start();
    await settle();
    expect(calls).toHaveLength(5); // a round: all refused
    clock.advance(10_000); // the backoff, not the circuit's 60 s
    await settle();
    expect(calls).toHaveLength(6); // after a refusal: one item alone, the probe
    down = false;
    clock.advance(2_000);
    replayer.resume(); // a health check saw memory back, 2 s into a 10 s backoff
    for (let i = 0; i < 100 && journal.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls.slice(6)).toEqual(Array(5).fill(1_012_000)); // at once: the probe, then the rest
    expect(journal.size).toBe(0);
    await replayer.stop();
    await journal.close();
  });

  it("resume() does not shorten memory's own Retry-After", async () => {
    const calls: number[] = [];
    let refuse = true;
    const { journal, clock, replayer } = await setup(async () => {
      calls.push(clock.now());
      if (refuse) {
        refuse = false;
        throw new CortexError('service_unavailable', 'busy', { retryAfterMs: 5000 });
      }
    });
    await journal.append(item(1));
    replayer.start();
    await settle();
    replayer.resume();
    await settle();
    expect(calls).toEqual([1_000_000]);
    clock.advance(5000);
    await settle();
    expect(calls).toEqual([1_000_000, 1_005_000]);
    await replayer.stop();
    await journal.close();
  });
});
