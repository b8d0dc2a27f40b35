import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGatewayApp } from './app';
import { loadGatewayEnv } from './env';

/** One sample of an unlabelled gauge, as Prometheus would read it. */
const sample = (body: string, name: string) => {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('gateway gauges on /metrics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-metrics-'));
  let app: Awaited<ReturnType<typeof buildGatewayApp>>;
  beforeAll(async () => {
    app = await buildGatewayApp({
      env: loadGatewayEnv({
        LOG_LEVEL: 'silent',
        JWT_SECRET: 'unit-test-secret-0123456789',
        // Memory is away: inputs go to the pending journal.
        MEMORY_SERVICE_URL: 'http://127.0.0.1:9',
        COGNITION_SERVICE_URL: 'http://127.0.0.1:9',
        PENDING_STORE_DIR: dir,
        AUTH_USERS: 'ann:pw1:ann-id',
      }),
    });
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the pending journal grow as inputs wait for memory, and the feed away', async () => {
    const before = (await app.inject({ url: '/metrics' })).body;
    expect(sample(before, 'pending_journal_items')).toBe(0);
    expect(sample(before, 'pending_journal_bytes')).toBe(0);
    expect(sample(before, 'sse_connections')).toBe(0);
    expect(sample(before, 'event_feed_connected')).toBe(0);
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'ann', password: 'pw1' },
    });
    const authorization = `Bearer ${login.json().access_token}`;
    for (const content of ['one', 'two']) {
      const res = await app.inject({
        method: 'POST',
        url: '/input',
        headers: { authorization },
        payload: { content },
      });
      expect(res.json().status).toBe('received_storage_pending');
    }
    const after = (await app.inject({ url: '/metrics' })).body;
    expect(sample(after, 'pending_journal_items')).toBe(2);
    expect(sample(after, 'pending_journal_bytes')).toBeGreaterThan(0);
  });
});
