import { CortexError } from '@cortex/errors';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

export interface AuthUser {
  id: string;
  name?: string | undefined;
  email?: string | undefined;
}

/** HS256 tokens as the original issued them: the user is `oid`, else `sub`; `exp` is required. */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<AuthUser> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
      });
      const id = typeof payload.oid === 'string' && payload.oid ? payload.oid : payload.sub;
      if (!id) throw new CortexError('unauthorized', 'Token names no user (oid or sub)');
      return {
        id,
        name: typeof payload.name === 'string' ? payload.name : undefined,
        email: typeof payload.email === 'string' ? payload.email : undefined,
      };
    } catch (err) {
      if (err instanceof CortexError) throw err;
      const message = err instanceof joseErrors.JWTExpired ? 'Token expired' : 'Invalid token';
      throw new CortexError('unauthorized', message);
    }
  }

  issue(user: AuthUser): Promise<string> {
    const claims: Record<string, string> = { oid: user.id };
    if (user.name) claims.name = user.name;
    if (user.email) claims.email = user.email;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }
}
