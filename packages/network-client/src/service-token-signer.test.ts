import { FakeClock } from '@cortex/testing';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { ServiceTokenSigner } from './service-token-signer';

const SECRET = 'signer-test-secret-0123456789abcdef-xyz';
const START = Date.parse('2026-12-01T12:00:00Z');

const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

describe('ServiceTokenSigner', () => {
  it('signs HS256 tokens with sub, aud, iat and exp five minutes later, verifiable with the secret', async () => {
    const clock = new FakeClock(START);
    const signer = new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET, clock });
    const token = await signer.token('memory');
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const { payload } = await jwtVerify(token, new TextEncoder().encode(SECRET), {
      audience: 'memory',
      subject: 'gateway',
      currentDate: new Date(START),
    });
    expect(payload.iat).toBe(START / 1000);
    expect(payload.exp).toBe(START / 1000 + 300);
    await expect(
      jwtVerify(token, new TextEncoder().encode(`${SECRET}-other`), { currentDate: new Date(START) }),
    ).rejects.toThrow();
  });

  it('keeps one token per audience until shortly before it expires, then renews it', async () => {
    const clock = new FakeClock(START);
    const signer = new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET, clock, renewBeforeS: 60 });
    const first = await signer.token('memory');
    const forCognition = await signer.token('cognition');
    expect(claims(forCognition).aud).toBe('cognition');
    expect(signer.signed).toBe(2);
    // The hot path: every call within the token's first four minutes gets the same one.
    for (let i = 0; i < 100; i++) expect(await signer.token('memory')).toBe(first);
    clock.advance(239_999);
    expect(await signer.token('memory')).toBe(first);
    expect(signer.signed).toBe(2);
    // A minute before its exp it is replaced, so no call carries a token about to expire.
    clock.advance(1);
    const renewed = await signer.token('memory');
    expect(renewed).not.toBe(first);
    expect(claims(renewed).iat).toBe(START / 1000 + 240);
    expect(claims(renewed).exp).toBe(START / 1000 + 540);
    expect(signer.signed).toBe(3);
  });

  it('signs once for concurrent calls at renewal', async () => {
    const clock = new FakeClock(START);
    const signer = new ServiceTokenSigner({ issuer: 'cognition', secret: SECRET, clock });
    const tokens = await Promise.all(Array.from({ length: 50 }, () => signer.token('memory')));
    expect(new Set(tokens).size).toBe(1);
    expect(signer.signed).toBe(1);
    expect(claims(tokens[0] as string).sub).toBe('cognition');
  });

  it('refuses a lifetime over five minutes', () => {
    expect(() => new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET, lifetimeS: 301 })).toThrow(
      RangeError,
    );
  });
});
