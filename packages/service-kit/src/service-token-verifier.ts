import { webcrypto } from 'node:crypto';
import { CortexError } from '@cortex/errors';
import { type Clock, systemClock } from '@cortex/resilience';
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';

/** The longest a service token may live (`exp - iat`), per the contract. */
const MAX_SERVICE_TOKEN_LIFETIME_S = 300;
/** How far in the future an `iat` may lie: hosts' clocks differ a little. */
const IAT_SKEW_S = 30;

export interface ServiceTokenVerifierOptions {
  /** This service: the `aud` every token must name. */
  audience: string;
  /** Each calling service's accepted secrets (rotation: any one of them verifies). */
  callers: Readonly<Record<string, readonly string[]>>;
  /** Token claims are timestamps: only its wall time is read. */
  clock?: Clock;
  /** Verified tokens remembered at most (each until its `exp`). */
  cacheSize?: number;
}

interface Verified {
  caller: string;
  /** `exp` in milliseconds: a cached verdict is only good until then. */
  expiresAt: number;
}

const refuse = (message: string) => new CortexError('unauthorized', message);

/**
 * Verifies service tokens: HS256 only, signed with the secret of the service its `sub` names,
 * addressed (`aud`) to this service, not expired, living at most 5 minutes. Callers reuse one
 * token for minutes, so a verified token is remembered (keyed by the whole string, signature
 * included, until its `exp`) and the hot path costs a map lookup instead of an HMAC and two JSON
 * parses. Only successes are remembered, so a forged token is never let in by the cache.
 */
export class ServiceTokenVerifier {
  private readonly keys = new Map<string, Promise<webcrypto.CryptoKey>[]>();
  private readonly cache = new Map<string, Verified>();
  private readonly clock: Clock;
  private readonly cacheSize: number;
  /** Verifications that were not answered from the cache (for tests and benchmarks). */
  uncached = 0;

  constructor(private readonly options: ServiceTokenVerifierOptions) {
    this.clock = options.clock ?? systemClock;
    this.cacheSize = options.cacheSize ?? 1000;
    for (const [caller, secrets] of Object.entries(options.callers)) {
      // Imported once: jose would otherwise import the raw secret on every verification.
      this.keys.set(
        caller,
        secrets.map((secret) =>
          webcrypto.subtle.importKey(
            'raw',
            new TextEncoder().encode(secret),
            { name: 'HMAC', hash: 'SHA-256' },
            false,
            ['verify'],
          ),
        ),
      );
    }
  }

  /** The calling service's name, or a CortexError `unauthorized`. */
  async verify(token: string): Promise<string> {
    const hit = this.cache.get(token);
    if (hit) {
      if (hit.expiresAt > this.clock.wallNow()) return hit.caller;
      this.cache.delete(token);
    }
    this.uncached++;
    const verified = await this.verifyUncached(token);
    if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, verified);
    return verified.caller;
  }

  private async verifyUncached(token: string): Promise<Verified> {
    let claimed: string | undefined;
    try {
      const sub = decodeJwt(token).sub;
      claimed = typeof sub === 'string' ? sub : undefined;
    } catch {
      throw refuse('Malformed service token');
    }
    // `Object.hasOwn`: a `sub` of "__proto__" must not find anything.
    const keys =
      claimed !== undefined && Object.hasOwn(this.options.callers, claimed)
        ? this.keys.get(claimed)
        : undefined;
    if (!keys) throw refuse('Service token names no known calling service');
    const currentDate = new Date(this.clock.wallNow());
    for (const key of keys) {
      let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
      try {
        ({ payload } = await jwtVerify(token, await key, {
          algorithms: ['HS256'],
          requiredClaims: ['exp', 'iat', 'sub', 'aud'],
          currentDate,
        }));
      } catch (err) {
        // Another accepted secret (rotation) may have signed it.
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        if (err instanceof joseErrors.JWTExpired) throw refuse('Service token expired');
        throw refuse('Invalid service token');
      }
      if (payload.aud !== this.options.audience) {
        throw refuse(`Service token is not addressed to ${this.options.audience}`);
      }
      const iat = payload.iat as number;
      const exp = payload.exp as number;
      if (exp - iat > MAX_SERVICE_TOKEN_LIFETIME_S) {
        throw refuse(`Service token lives longer than ${MAX_SERVICE_TOKEN_LIFETIME_S} s`);
      }
      if (iat > currentDate.getTime() / 1000 + IAT_SKEW_S) throw refuse('Service token issued in the future');
      return { caller: claimed as string, expiresAt: exp * 1000 };
    }
    throw refuse('Invalid service token signature');
  }
}
