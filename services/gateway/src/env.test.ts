import { describe, expect, it } from 'vitest';
import { loadGatewayEnv } from './env';

const SECRET = 'a-production-secret-0123456789abcdef';
// The gateway signs its calls to memory and cognition: production needs its own secret too.
const SERVICE = { GATEWAY_SERVICE_SECRET: 'a-gateway-service-secret-0123456789abcdef' };
const HASH = `scrypt$1024$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`;

describe('gateway environment', () => {
  it('refuses an unknown NODE_ENV instead of running as development', () => {
    for (const value of ['prod', 'staging'])
      expect(() => loadGatewayEnv({ NODE_ENV: value })).toThrow(/^invalid environment variable NODE_ENV/);
  });

  it('treats Production in any case as production: no development secret, no demo users', () => {
    for (const value of ['Production', 'PRODUCTION', 'production']) {
      expect(() => loadGatewayEnv({ NODE_ENV: value })).toThrow(
        /JWT_SECRET \(unset\): is required in production/,
      );
      expect(
        () => loadGatewayEnv({ NODE_ENV: value, JWT_SECRET: 'cortex-dev-secret-change-me-0123456789' }),
        value,
      ).toThrow(/must not be the development secret/);
      const env = loadGatewayEnv({ NODE_ENV: value, JWT_SECRET: SECRET, ...SERVICE });
      expect(env.users).toEqual([]);
      expect(env.usingDevSecret).toBe(false);
    }
  });

  it('takes only password hashes in production', () => {
    expect(() =>
      loadGatewayEnv({ NODE_ENV: 'production', JWT_SECRET: SECRET, AUTH_USERS: 'ann:pw', ...SERVICE }),
    ).toThrow(/AUTH_USERS \(6 characters, not shown\): entry 1 has a plaintext password/);
    const env = loadGatewayEnv({
      NODE_ENV: 'production',
      JWT_SECRET: SECRET,
      AUTH_USERS: `ann:${HASH}:ann-id`,
      ...SERVICE,
    });
    expect(env.users.map((u) => u.id)).toEqual(['ann-id']);
  });

  it('means no users by an empty AUTH_USERS, and the demo users only when it is unset', () => {
    expect(loadGatewayEnv({ AUTH_USERS: '' }).users).toEqual([]);
    expect(loadGatewayEnv({}).users.map((u) => u.name)).toEqual(['demo', 'alice', 'bob']);
  });

  it('never prints a rejected secret', () => {
    let message = '';
    try {
      loadGatewayEnv({ JWT_SECRET: 'hunter2-short' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JWT_SECRET/);
    expect(message).not.toContain('hunter2');
  });

  it('parses TRUST_PROXY as off, a hop count, true, or addresses', () => {
    expect(loadGatewayEnv({}).TRUST_PROXY).toBe(false);
    expect(loadGatewayEnv({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(loadGatewayEnv({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadGatewayEnv({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY).toBe(
      '10.0.0.0/8, 127.0.0.1',
    );
    expect(() => loadGatewayEnv({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
  });
});
