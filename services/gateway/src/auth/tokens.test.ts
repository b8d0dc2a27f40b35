import { FakeClock } from '@cortex/testing';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenService } from './tokens';

const SECRET = 'token-test-secret-0123456789';
const sign = (claims: Record<string, unknown>, exp: number, secret = SECRET) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));

describe('TokenService', () => {
  it('takes the user from oid, else sub', async () => {
    const tokens = new TokenService(SECRET, 60);
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect((await tokens.verify(await sign({ oid: 'o', sub: 's', name: 'N' }, exp))).id).toBe('o');
    expect(await tokens.verify(await sign({ sub: 's' }, exp))).toEqual({
      id: 's',
      name: undefined,
      email: undefined,
      expiresAt: exp * 1000,
      authTime: undefined,
    });
    await expect(tokens.verify(await sign({ name: 'x' }, exp))).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });

  it('remembers a verified token only until it expires', async () => {
    const clock = new FakeClock(1_000_000_000_000);
    const tokens = new TokenService(SECRET, 60, clock);
    const token = await sign({ oid: 'u' }, clock.wallNow() / 1000 + 10);
    expect((await tokens.verify(token)).id).toBe('u');
    clock.advance(9_000);
    expect((await tokens.verify(token)).id).toBe('u');
    clock.advance(1_000);
    await expect(tokens.verify(token)).rejects.toMatchObject({
      code: 'unauthorized',
      message: 'Token expired',
    });
  });

  it('never lets a forged token in, even after the real one was cached', async () => {
    const tokens = new TokenService(SECRET, 60);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const real = await sign({ oid: 'victim' }, exp);
    await tokens.verify(real);
    const forged = await sign({ oid: 'victim' }, exp, 'attacker-secret-0123456789');
    await expect(tokens.verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
    const [header, payload] = real.split('.');
    await expect(tokens.verify(`${header}.${payload}.AAAA`)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('issues tokens it accepts, with exp', async () => {
    const tokens = new TokenService(SECRET, 60);
    const token = await tokens.issue({ id: 'me', name: 'Me' });
    expect(await tokens.verify(token)).toMatchObject({ id: 'me', name: 'Me', email: undefined });
    const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
    expect(payload.exp - payload.iat).toBe(60);
  });

  describe('refuses with 401 (never 500) what it cannot stand behind', () => {
    const now = 1_800_000_000_000;
    const nowS = now / 1000;
    const tokens = new TokenService(SECRET, 3600, new FakeClock(now));
    const refused = async (claims: Record<string, unknown>, exp: number, message: RegExp) => {
      const token = await sign(claims, exp);
      await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'unauthorized', message });
    };

    it('a user id holding a lone surrogate, NUL, or over 100 characters', async () => {
      await refused({ sub: 'ab\ud800' }, nowS + 60, /unpaired surrogate/);
      await refused({ oid: '\udc00' }, nowS + 60, /unpaired surrogate/);
      await refused({ sub: 'a\u0000b' }, nowS + 60, /NUL/);
      await refused({ sub: 'x'.repeat(101) }, nowS + 60, /longer than 100/);
      expect((await tokens.verify(await sign({ sub: 'x'.repeat(100) }, nowS + 60))).id).toHaveLength(100);
      // A well-formed pair is fine: ids may be any text memory can store.
      expect((await tokens.verify(await sign({ sub: 'u\ud83d\ude00' }, nowS + 60))).id).toBe('u😀');
    });

    it('an exp further away than the lifetime this gateway issues', async () => {
      await refused({ sub: 'a' }, 1e300, /lifetime/);
      await refused({ sub: 'a' }, nowS + 3600 + 61, /lifetime/);
      expect((await tokens.verify(await sign({ sub: 'a' }, nowS + 3600 + 59))).id).toBe('a');
    });

    it('an iat in the future, beyond a minute of clock skew', async () => {
      await refused({ sub: 'a', iat: nowS + 3600 }, nowS + 600, /future/);
      await refused({ sub: 'a', iat: nowS + 61 }, nowS + 600, /future/);
      expect((await tokens.verify(await sign({ sub: 'a', iat: nowS + 30 }, nowS + 600))).id).toBe('a');
    });

    it('drops a name or email that is not well-formed text rather than failing', async () => {
      const user = await tokens.verify(await sign({ sub: 'a', name: 'n\ud800', email: 'e@x' }, nowS + 60));
      expect(user).toMatchObject({ id: 'a', name: undefined, email: 'e@x' });
    });
  });
});
