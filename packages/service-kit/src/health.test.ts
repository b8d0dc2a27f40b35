import { FakeClock } from '@cortex/testing';
import { describe, expect, it } from 'vitest';
import { HealthRegistry } from './health';

describe('HealthRegistry', () => {
  it('runs every check on each run by default', async () => {
    const registry = new HealthRegistry();
    let calls = 0;
    registry.add('db', () => ({ status: 'healthy', n: ++calls }));
    await registry.run();
    await registry.run();
    expect(calls).toBe(2);
  });

  it('shares one run between concurrent and repeated callers within maxAgeMs', async () => {
    const clock = new FakeClock(1000);
    const registry = new HealthRegistry(clock);
    let calls = 0;
    registry.add('db', async () => ({ status: 'healthy', n: ++calls }));
    const burst = await Promise.all(Array.from({ length: 50 }, () => registry.run(1000)));
    expect(calls).toBe(1);
    expect(burst.every((r) => r.dependencies.db?.n === 1)).toBe(true);
    clock.advance(999);
    await registry.run(1000);
    expect(calls).toBe(1);
    clock.advance(1);
    expect((await registry.run(1000)).dependencies.db?.n).toBe(2);
    // A run without maxAgeMs is always fresh, and not what the shared runs answer from.
    expect((await registry.run()).dependencies.db?.n).toBe(3);
    expect((await registry.run(1000)).dependencies.db?.n).toBe(2);
  });
});
