import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceApp } from './create-app';

const GATEWAY = 'auth-plugin-gateway-secret-0123456789';
const COGNITION = 'auth-plugin-cognition-secret-0123456789';

const token = (sub: string, secret: string, aud = 'memory') =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

describe('service authentication plugin', () => {
  const app = createServiceApp({
    service: 'memory',
    logLevel: 'silent',
    auth: {
      service: 'memory',
      secrets: { gateway: [GATEWAY], cognition: [COGNITION] },
      permissions: {
        gateway: 'all',
        cognition: { tools: ['get_message'], routes: ['/resource/history/:user_id'] },
      },
    },
  });
  app.post<{ Params: { name: string } }>('/tool/:name', async (request) => ({
    result: { tool: request.params.name, caller: request.caller },
  }));
  app.get('/resource/history/:user_id', async () => 'history');
  app.get('/resource/events', async () => 'events');
  let gateway = '';
  let cognition = '';

  beforeAll(async () => {
    await app.ready();
    gateway = `Bearer ${await token('gateway', GATEWAY)}`;
    cognition = `Bearer ${await token('cognition', COGNITION)}`;
  });
  afterAll(() => app.close());

  const call = (url: string, authorization?: string, method: 'GET' | 'POST' = 'GET') =>
    app.inject({
      method,
      url,
      headers: authorization ? { authorization } : {},
      ...(method === 'POST' ? { payload: {} } : {}),
    });

  it('leaves /health and /metrics open', async () => {
    expect((await call('/health')).statusCode).toBe(200);
    expect((await call('/metrics')).statusCode).toBe(200);
  });

  it('refuses a request without a valid token with 401 and the error body, before any route', async () => {
    for (const [url, auth] of [
      ['/resource/history/bob', undefined],
      ['/tool/store_input', undefined],
      ['/no/such/route', undefined],
      ['/resource/events', 'Basic Z2F0ZXdheTpwdw=='],
      ['/resource/events', 'Bearer'],
      ['/resource/events', 'Bearer a.b.c'],
    ] as const) {
      const res = await call(url, auth, url.startsWith('/tool') ? 'POST' : 'GET');
      expect(res.statusCode, `${url} ${auth}`).toBe(401);
      expect(res.json().error).toMatchObject({ code: 'unauthorized', request_id: expect.any(String) });
    }
  });

  it('refuses a token addressed to another service', async () => {
    const res = await call('/resource/events', `Bearer ${await token('gateway', GATEWAY, 'cognition')}`);
    expect(res.statusCode).toBe(401);
  });

  it('lets each caller use what it may, and answers 403 for the rest', async () => {
    expect((await call('/resource/events', gateway)).statusCode).toBe(200);
    expect((await call('/tool/store_input', gateway, 'POST')).json().result).toEqual({
      tool: 'store_input',
      caller: 'gateway',
    });
    expect((await call('/resource/history/bob', cognition)).statusCode).toBe(200);
    expect((await call('/tool/get_message', cognition, 'POST')).json().result.caller).toBe('cognition');
    for (const [url, method] of [
      ['/tool/store_input', 'POST'],
      ['/tool/get_messagex', 'POST'],
      ['/resource/events', 'GET'],
      ['/resource/events?after=0', 'GET'],
      ['/no/such/route', 'GET'],
    ] as const) {
      const res = await call(url, cognition, method);
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    }
    // An authenticated gateway learns that a route does not exist.
    expect((await call('/no/such/route', gateway)).statusCode).toBe(404);
  });
});
