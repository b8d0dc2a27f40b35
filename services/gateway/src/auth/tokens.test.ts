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
    });
    await expect(tokens.verify(await sign({ name: 'x' }, exp))).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });

  it('remembers a verified token only until it expires', async () => {
    let now = 1_000_000_000_000;
    const tokens = new TokenService(SECRET, 60, () => now);
    const token = await sign({ oid: 'u' }, now / 1000 + 10);
    expect((await tokens.verify(token)).id).toBe('u');
    now += 9_000;
    expect((await tokens.verify(token)).id).toBe('u');
    now += 1_000;
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
    expect(await tokens.verify(token)).toEqual({ id: 'me', name: 'Me', email: undefined });
    const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString());
    expect(payload.exp - payload.iat).toBe(60);
  });
});
