import { isIP } from 'node:net';
import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { parseInstances } from './discovery';
import { expandDns, InstanceSet } from './instance-set';

const three = () => parseInstances('svc', 'http://10.0.0.1:1,http://10.0.0.2:1,http://10.0.0.3:1');

describe('InstanceSet', () => {
  it('spreads calls over instances in turn', () => {
    const set = new InstanceSet(three());
    expect([1, 2, 3, 4].map(() => set.pick().id)).toEqual([
      '10.0.0.1:1',
      '10.0.0.2:1',
      '10.0.0.3:1',
      '10.0.0.1:1',
    ]);
  });

  it('ejects an instance that keeps failing, for longer each time, and takes it back after', () => {
    const clock = new FakeClock();
    const [a] = three();
    const set = new InstanceSet(three(), { ejectAfterFailures: 3, ejectMs: 1000, clock });
    for (let i = 0; i < 3; i++) set.report(a!, false);
    const picks = Array.from({ length: 6 }, () => set.pick().id);
    expect(picks).not.toContain('10.0.0.1:1');
    clock.advance(1000);
    expect(Array.from({ length: 3 }, () => set.pick().id)).toContain('10.0.0.1:1');
    for (let i = 0; i < 3; i++) set.report(a!, false);
    clock.advance(1999);
    expect(set.describe()[0]).toEqual({ id: '10.0.0.1:1', healthy: true, ejected: true });
    clock.advance(1);
    expect(set.describe()[0]?.ejected).toBe(false);
  });

  it('a success resets the failure count', () => {
    const [a] = three();
    const set = new InstanceSet(three(), { ejectAfterFailures: 2 });
    set.report(a!, false);
    set.report(a!, true);
    set.report(a!, false);
    expect(set.describe()[0]?.ejected).toBe(false);
  });

  it('skips instances health checks found down, and fails open when none is left', () => {
    const list = three();
    const set = new InstanceSet(list);
    set.setHealthy(list[0]!, false);
    set.setHealthy(list[1]!, false);
    expect(new Set(Array.from({ length: 4 }, () => set.pick().id))).toEqual(new Set(['10.0.0.3:1']));
    set.setHealthy(list[2]!, false);
    expect(new Set(Array.from({ length: 3 }, () => set.pick().id)).size).toBe(3);
  });

  it('expands a name into its addresses, keeping literal addresses', async () => {
    const expanded = await expandDns(parseInstances('svc', 'http://localhost:9000,http://127.0.0.1:1'));
    expect(expanded.map((i) => i.url.port)).toEqual(['9000', '1']);
    // A name: one instance per address it resolves to, dialled directly, labelled by the name.
    const resolve = async (host: string) => {
      if (host !== 'memory.internal') throw Object.assign(new Error('no such host'), { code: 'ENOTFOUND' });
      return [
        { address: '10.0.0.7', family: 4 },
        { address: 'fd00::7', family: 6 },
      ];
    };
    const named = await expandDns(parseInstances('svc', 'http://memory.internal:9100'), resolve);
    expect(named.map((i) => [i.url.host, i.id])).toEqual([
      ['10.0.0.7:9100', 'memory.internal/10.0.0.7:9100'],
      ['[fd00::7]:9100', 'memory.internal/[fd00::7]:9100'],
    ]);
    for (const i of named) expect(isIP(i.url.hostname.replace(/^\[|\]$/g, ''))).not.toBe(0);
    // A name that does not resolve (yet) is kept, so the error surfaces on call, not at start.
    const unknown = await expandDns(parseInstances('svc', 'http://not-yet.internal:9100'), resolve);
    expect(unknown.map((i) => i.url.host)).toEqual(['not-yet.internal:9100']);
  });

  it('ends an ejection on news of health (a passing check after a failing one) or a successful call', () => {
    const clock = new FakeClock();
    const [a] = three();
    const set = new InstanceSet(three(), { ejectAfterFailures: 1, ejectMs: 60_000, clock });
    expect(set.degraded).toBe(false);
    set.report(a!, false);
    expect(set.degraded).toBe(true);
    expect(set.setHealthy(a!, true)).toBe(false); // it was passing its checks: no news, stays out
    expect(set.describe()[0]?.ejected).toBe(true);
    expect(set.setHealthy(a!, false)).toBe(false);
    expect(set.setHealthy(a!, true)).toBe(true);
    expect(set.describe()[0]).toEqual({ id: '10.0.0.1:1', healthy: true, ejected: false });
    set.report(a!, false);
    expect(set.describe()[0]?.ejected).toBe(true);
    set.report(a!, true);
    expect(set.describe()[0]?.ejected).toBe(false);
    expect(set.degraded).toBe(false);
  });
});
