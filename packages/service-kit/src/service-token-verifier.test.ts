import { ServiceTokenSigner } from '@cortex/network-client';
import { FakeClock } from '@cortex/testing';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ServiceTokenVerifier } from './service-token-verifier';

const GATEWAY = 'verifier-test-gateway-secret-0123456789';
const COGNITION = 'verifier-test-cognition-secret-0123456789';
const START = Date.parse('2026-12-01T12:00:00Z');
const nowS = START / 1000;

const key = (secret: string) => new TextEncoder().encode(secret);
function sign(
  claims: Record<string, unknown>,
  { secret = GATEWAY, iat = nowS, exp = nowS + 300 }: { secret?: string; iat?: number; exp?: number } = {},
) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key(secret));
}
const unsigned = (claims: Record<string, unknown>) =>
  `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

function verifier(
  clock = new FakeClock(START),
  callers: Record<string, string[]> = { gateway: [GATEWAY], cognition: [COGNITION] },
) {
  return new ServiceTokenVerifier({ audience: 'memory', callers, clock });
}

describe('ServiceTokenVerifier', () => {
  it("accepts the signer's tokens and names the caller from sub, checked against that caller's secret", async () => {
    const clock = new FakeClock(START);
    const v = verifier(clock);
    const fromGateway = await new ServiceTokenSigner({ issuer: 'gateway', secret: GATEWAY, clock }).token(
      'memory',
    );
    const fromCognition = await new ServiceTokenSigner({
      issuer: 'cognition',
      secret: COGNITION,
      clock,
    }).token('memory');
    expect(await v.verify(fromGateway)).toBe('gateway');
    expect(await v.verify(fromCognition)).toBe('cognition');
    // Cognition cannot pass as the gateway: its secret does not verify a `sub: gateway`.
    const impersonation = await sign({ sub: 'gateway', aud: 'memory' }, { secret: COGNITION });
    await expect(v.verify(impersonation)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it.each([
    ['malformed', async () => 'not.a.jwt'],
    ['empty', async () => ''],
    ['signed with another secret', () => sign({ sub: 'gateway', aud: 'memory' }, { secret: 'x'.repeat(40) })],
    [
      'a user token (JWT_SECRET, no aud)',
      () => sign({ oid: 'alice', sub: 'alice' }, { secret: 'user-secret-0123456789abcdef-0123' }),
    ],
    [
      'a user whose sub is "gateway"',
      () => sign({ sub: 'gateway' }, { secret: 'user-secret-0123456789abcdef-0123' }),
    ],
    ['addressed to cognition', () => sign({ sub: 'gateway', aud: 'cognition' })],
    ['addressed to several services', () => sign({ sub: 'gateway', aud: ['memory', 'cognition'] })],
    ['expired', () => sign({ sub: 'gateway', aud: 'memory' }, { iat: nowS - 301, exp: nowS - 1 })],
    ['living over five minutes', () => sign({ sub: 'gateway', aud: 'memory' }, { exp: nowS + 301 })],
    ['exp of 1e300', () => sign({ sub: 'gateway', aud: 'memory' }, { iat: nowS, exp: 1e300 })],
    [
      'issued in the future',
      () => sign({ sub: 'gateway', aud: 'memory' }, { iat: nowS + 120, exp: nowS + 300 }),
    ],
    ['alg none', async () => unsigned({ sub: 'gateway', aud: 'memory', iat: nowS, exp: nowS + 60 })],
    ['an unknown caller', () => sign({ sub: 'memory', aud: 'memory' })],
    ['a sub of __proto__', () => sign({ sub: '__proto__', aud: 'memory' })],
    [
      'without iat',
      () =>
        new SignJWT({ sub: 'gateway', aud: 'memory' })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime(nowS + 60)
          .sign(key(GATEWAY)),
    ],
  ])('refuses a token %s with 401', async (_name, make) => {
    await expect(verifier().verify(await make())).rejects.toMatchObject({
      code: 'unauthorized',
      status: 401,
    });
  });

  it('remembers a verified token until its exp, so the hot path does no HMAC', async () => {
    const clock = new FakeClock(START);
    const v = verifier(clock);
    const token = await sign({ sub: 'gateway', aud: 'memory' }, { exp: nowS + 10 });
    for (let i = 0; i < 100; i++) expect(await v.verify(token)).toBe('gateway');
    expect(v.uncached).toBe(1);
    clock.advance(9_999);
    expect(await v.verify(token)).toBe('gateway');
    clock.advance(1);
    await expect(v.verify(token)).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'Service token expired',
    });
  });

  it('never lets a forged token in through the cache', async () => {
    const v = verifier();
    const real = await sign({ sub: 'gateway', aud: 'memory' });
    await v.verify(real);
    const [header, payload] = real.split('.');
    await expect(v.verify(`${header}.${payload}.AAAA`)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(v.verify(`${real}x`)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('accepts every secret of a rotation list', async () => {
    const v = verifier(new FakeClock(START), { gateway: [`new-${GATEWAY}`, GATEWAY] });
    expect(await v.verify(await sign({ sub: 'gateway', aud: 'memory' }, { secret: `new-${GATEWAY}` }))).toBe(
      'gateway',
    );
    expect(await v.verify(await sign({ sub: 'gateway', aud: 'memory' }, { secret: GATEWAY }))).toBe(
      'gateway',
    );
  });

  it('keeps the cache bounded', async () => {
    const clock = new FakeClock(START);
    const v = new ServiceTokenVerifier({
      audience: 'memory',
      callers: { gateway: [GATEWAY] },
      clock,
      cacheSize: 2,
    });
    const tokens = await Promise.all([1, 2, 3].map((i) => sign({ sub: 'gateway', aud: 'memory', n: i })));
    for (const t of tokens) await v.verify(t);
    expect(v.uncached).toBe(3);
    await v.verify(tokens[2] as string);
    expect(v.uncached).toBe(3);
    // The oldest was evicted: verified again, not from the cache.
    await v.verify(tokens[0] as string);
    expect(v.uncached).toBe(4);
  });
});
