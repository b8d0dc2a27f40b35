import { webcrypto } from 'node:crypto';
import { CortexError } from '@cortex/errors';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

export interface AuthUser {
  id: string;
  name?: string | undefined;
  email?: string | undefined;
}

interface Verified {
  user: AuthUser;
  /** `exp` in milliseconds: a cached verdict is only good until then. */
  expiresAt: number;
}

const CACHE_LIMIT = 10_000;

/**
 * HS256 tokens as the original issued them: the user is `oid`, else `sub`; `exp` is required.
 *
 * A client sends the same token on every request, and verifying it (WebCrypto HMAC) was a quarter
 * of the gateway's CPU under load. The verdict for a given token string and key can only change
 * with time, through `exp`, so verified tokens are remembered until they expire. Only successes
 * are cached, keyed by the whole token (signature included), so a forged token is never let in.
 */
export class TokenService {
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly raw: Uint8Array;
  private readonly cache = new Map<string, Verified>();

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.raw = new TextEncoder().encode(secret);
    // Imported once: jose would otherwise import the raw secret on every verification.
    this.key = webcrypto.subtle.importKey('raw', this.raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
  }

  async verify(token: string): Promise<AuthUser> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.expiresAt > this.now()) return hit.user;
      this.cache.delete(token);
    }
    const verified = await this.verifyUncached(token);
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, verified);
    return verified.user;
  }

  private async verifyUncached(token: string): Promise<Verified> {
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
      });
      const id = typeof payload.oid === 'string' && payload.oid ? payload.oid : payload.sub;
      if (!id) throw new CortexError('unauthorized', 'Token names no user (oid or sub)');
      return {
        user: {
          id,
          name: typeof payload.name === 'string' ? payload.name : undefined,
          email: typeof payload.email === 'string' ? payload.email : undefined,
        },
        expiresAt: (payload.exp as number) * 1000,
      };
    } catch (err) {
      if (err instanceof CortexError) throw err;
      const message = err instanceof joseErrors.JWTExpired ? 'Token expired' : 'Invalid token';
      throw new CortexError('unauthorized', message);
    }
  }

  async issue(user: AuthUser): Promise<string> {
    const claims: Record<string, string> = { oid: user.id };
    if (user.name) claims.name = user.name;
    if (user.email) claims.email = user.email;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt(Math.floor(this.now() / 1000))
      .setExpirationTime(Math.floor(this.now() / 1000) + this.ttlSeconds)
      .sign(await this.key);
  }
}
