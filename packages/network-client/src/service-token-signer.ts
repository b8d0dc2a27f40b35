import { webcrypto } from 'node:crypto';
import { type Clock, systemClock } from '@cortex/resilience';
import { SignJWT } from 'jose';

/** Where a client's `Authorization: Bearer` token comes from, per called service. */
export interface TokenSource {
  token(audience: string): Promise<string>;
}

export interface ServiceTokenSignerOptions {
  /** The calling service (`sub`). */
  issuer: string;
  /** The caller's own secret (HS256). */
  secret: string;
  /** `exp - iat` in seconds; the contract allows at most 300. */
  lifetimeS?: number;
  /** A token is replaced this long before its `exp`, so none arrives expired. */
  renewBeforeS?: number;
  clock?: Clock;
}

interface Cached {
  token: Promise<string>;
  /** Clock time from which the next call signs a fresh token. */
  renewAt: number;
}

/**
 * Signs service tokens (contract: "Service wire format"): HS256 with the caller's own secret,
 * `sub` = caller, `aud` = the called service, `iat`, `exp` ≤ 5 minutes later. One token per
 * audience is kept and handed to every call until shortly before it expires, so the hot path is a
 * map lookup, not a signature; concurrent calls at renewal share one signing.
 */
export class ServiceTokenSigner implements TokenSource {
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly cache = new Map<string, Cached>();
  private readonly lifetimeS: number;
  private readonly renewBeforeS: number;
  private readonly clock: Clock;
  /** Tokens signed so far (for tests and benchmarks). */
  signed = 0;

  constructor(private readonly options: ServiceTokenSignerOptions) {
    this.lifetimeS = options.lifetimeS ?? 300;
    this.renewBeforeS = options.renewBeforeS ?? 60;
    if (this.lifetimeS > 300 || this.lifetimeS <= this.renewBeforeS) {
      throw new RangeError('a service token lives at most 300 s, and longer than its renewal margin');
    }
    this.clock = options.clock ?? systemClock;
    this.key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(options.secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
  }

  token(audience: string): Promise<string> {
    // Claims are timestamps the verifier compares with its own wall clock.
    const now = this.clock.wallNow();
    const cached = this.cache.get(audience);
    if (cached && now < cached.renewAt) return cached.token;
    const iat = Math.floor(now / 1000);
    const exp = iat + this.lifetimeS;
    const token = this.sign(audience, iat, exp);
    const entry = { token, renewAt: (exp - this.renewBeforeS) * 1000 };
    this.cache.set(audience, entry);
    // A failed signing must not be handed out until renewal time.
    token.catch(() => {
      if (this.cache.get(audience) === entry) this.cache.delete(audience);
    });
    return token;
  }

  private async sign(audience: string, iat: number, exp: number) {
    this.signed++;
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(this.options.issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(await this.key);
  }
}
