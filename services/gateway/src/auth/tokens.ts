import { webcrypto } from 'node:crypto';
import { CortexError } from '@cortex/errors';
import { type Clock, systemClock } from '@cortex/resilience';
import { isStorableText } from '@cortex/service-kit';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { userIdProblem } from './users';

export interface AuthUser {
  id: string;
  name?: string | undefined;
  email?: string | undefined;
  /** When the token that proved this user expires (ms): a stream ends then. */
  expiresAt?: number | undefined;
  /** When the user signed in with a password (s), carried across refreshes; absent if unknown. */
  authTime?: number | undefined;
}

/** Clock difference tolerated between an issuer and us, for `iat` and the lifetime bound. */
const SKEW_S = 60;

interface Verified {
  user: AuthUser;
  /** `exp` in milliseconds: a cached verdict is only good until then. */
  expiresAt: number;
}

const CACHE_LIMIT = 10_000;

/**
 * HS256 tokens as the original issued them: the user is `oid`, else `sub`; `exp` is required.
 *
 * Beyond the signature: `iat` may not be in the future and `exp` may not be further away than the
 * lifetime we issue (TOKEN_TTL_S), so a leaked token signed with an absurd `exp` is worthless; the
 * user id must be 1..100 characters of well-formed text (memory stores and addresses it).
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
    /** Token claims are timestamps: only its wall time is read. */
    private readonly clock: Clock = systemClock,
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
      if (hit.expiresAt > this.clock.wallNow()) return hit.user;
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
        currentDate: new Date(this.clock.wallNow()),
      });
      const nowS = this.clock.wallNow() / 1000;
      const exp = payload.exp as number;
      if (exp > nowS + this.ttlSeconds + SKEW_S)
        throw new CortexError('unauthorized', 'Token lifetime is longer than this gateway allows');
      if (typeof payload.iat === 'number' && payload.iat > nowS + SKEW_S)
        throw new CortexError('unauthorized', 'Token issued in the future');
      const id = typeof payload.oid === 'string' && payload.oid ? payload.oid : payload.sub;
      if (!id) throw new CortexError('unauthorized', 'Token names no user (oid or sub)');
      const problem = userIdProblem(id);
      if (problem) throw new CortexError('unauthorized', `Token user id ${problem}`);
      const text = (v: unknown) => (typeof v === 'string' && isStorableText(v) ? v : undefined);
      return {
        user: {
          id,
          name: text(payload.name),
          email: text(payload.email),
          expiresAt: exp * 1000,
          authTime: typeof payload.auth_time === 'number' ? payload.auth_time : undefined,
        },
        expiresAt: exp * 1000,
      };
    } catch (err) {
      if (err instanceof CortexError) throw err;
      const message = err instanceof joseErrors.JWTExpired ? 'Token expired' : 'Invalid token';
      throw new CortexError('unauthorized', message);
    }
  }

  /** A fresh token; `authTime` (s) is when the password was checked, kept across refreshes. */
  async issue(user: AuthUser): Promise<string> {
    const claims: Record<string, string | number> = { oid: user.id };
    if (user.name) claims.name = user.name;
    if (user.email) claims.email = user.email;
    claims.auth_time = user.authTime ?? Math.floor(this.clock.wallNow() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt(Math.floor(this.clock.wallNow() / 1000))
      .setExpirationTime(Math.floor(this.clock.wallNow() / 1000) + this.ttlSeconds)
      .sign(await this.key);
  }
}
