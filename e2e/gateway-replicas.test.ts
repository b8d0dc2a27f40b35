import { http } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputLedger, makeUsers, type User } from './harness/ledger';
import { SseRecorder } from './harness/sse-client';
import { primaryMode, System } from './harness/system';

// Two gateway replicas share memory; each follows memory's feed. The database engine plays no
// part, so one mode is enough.
const database = primaryMode();

describe(`two gateway replicas, one killed (${database})`, () => {
  let system: System;
  let a: string;
  let b: string;

  beforeAll(async () => {
    system = await System.start({ database, gateways: 2 });
    a = system.gateways[0]?.url as string;
    b = system.gateways[1]?.url as string;
  });
  afterAll(async () => {
    await system?.stop();
  });

  const stream = async (gateway: string, user: User, lastEventId?: string) => {
    const s = await SseRecorder.open(
      `${gateway}/output/stream?token=${user.token}`,
      lastEventId ? { 'last-event-id': lastEventId } : {},
    );
    await s.waitFor((e) => e.some((x) => x.data.type === 'connection_established'), 10_000, 'the stream');
    return s;
  };
  const inputs = (s: SseRecorder) => s.ofType('input');

  it('inputs reach the user on every replica; after A is killed B still delivers, and a stream moved from A resumes without loss or repeats', async () => {
    const [alice, bob] = (await makeUsers('replicas', 2)) as [User, User];
    const ledger = new InputLedger();
    const aliceOnB = await stream(b, alice);
    const aliceOnA = await stream(a, alice);
    const bobOnA = await stream(a, bob);

    // Posted to A, seen on B (through memory's feed) and on A.
    for (let i = 0; i < 5; i++) expect((await ledger.post(a, alice)).status).toBe('received');
    await ledger.post(b, bob);
    await aliceOnB.waitFor(() => inputs(aliceOnB).length === 5, 10_000, 'inputs posted to A, on B');
    await aliceOnA.waitFor(() => inputs(aliceOnA).length === 5, 10_000, 'inputs posted to A, on A');
    await bobOnA.waitFor(() => inputs(bobOnA).length === 1, 10_000, "bob's input posted to B, on A");
    const position = aliceOnA.lastEventId as string;
    expect(position).toMatch(/^\d+$/);

    // A dies with alice's stream on it. Inputs posted to B meanwhile are what that stream missed.
    await system.gateways[0]?.kill();
    const missed = [];
    for (let i = 0; i < 4; i++) missed.push(await ledger.post(b, alice));
    expect(missed.map((m) => m.status)).toEqual(Array(4).fill('received'));
    await aliceOnB.waitFor(
      () => inputs(aliceOnB).length === 9,
      10_000,
      'inputs posted to B after A died, on B',
    );

    // The browser reconnects to B with its Last-Event-ID from A.
    const moved = await stream(b, alice, position);
    await moved.waitFor(() => inputs(moved).length >= 4, 10_000, 'the missed inputs replayed');
    for (let i = 0; i < 3; i++) await ledger.post(b, alice);
    await moved.waitFor(() => inputs(moved).length >= 7, 10_000, 'live inputs after the replay');
    await aliceOnB.waitFor(() => inputs(aliceOnB).length === 12, 10_000, 'every input on B');
    await new Promise((r) => setTimeout(r, 500));

    const aliceIds = ledger.answers.filter((x) => x.user === alice.id).map((x) => x.itemId);
    expect(inputs(moved).map((e) => e.data.id)).toEqual(aliceIds.slice(5));
    const seqs = inputs(moved).map((e) => Number(e.id));
    expect(seqs.every((s, i) => s > (i === 0 ? Number(position) : (seqs[i - 1] as number)))).toBe(true);
    expect(inputs(aliceOnB).map((e) => e.data.id)).toEqual(aliceIds);
    for (const s of [aliceOnB, aliceOnA, moved])
      expect(inputs(s).every((e) => e.data.user_id === alice.id)).toBe(true);
    expect(inputs(bobOnA).map((e) => e.data.user_id)).toEqual([bob.id]);
    const history = await http('GET', `${b}/history?limit=100`, { token: alice.token });
    expect(history.body.count).toBe(12);
    for (const s of [aliceOnB, aliceOnA, bobOnA, moved]) s.close();
  });
});
