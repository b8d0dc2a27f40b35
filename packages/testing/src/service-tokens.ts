import { decodeJwt, jwtVerify, SignJWT } from 'jose';

export type Caller = 'gateway' | 'cognition';
export type Callee = 'memory' | 'cognition';

/**
 * The service secrets every e2e system and bench stack runs with: real, distinct, strong, set as production sets
 * them (never the built-in development secrets, which production refuses).
 */
export const SERVICE_SECRETS: Record<Caller, string> = {
  gateway: 'e2e-gateway-service-secret-7c1f0a9d2b4e6f8a0c2e4f6a8b0d2f4a',
  cognition: 'e2e-cognition-service-secret-3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e',
};

// Signed here with jose, not with the product's signer: the harness checks the product, it does
// not reuse it. Kept per caller and audience, and replaced a minute before it expires.
const current = new Map<string, { token: Promise<string>; renewAt: number }>();

/** A current service token, as the caller's own network client would send it. */
function serviceToken(caller: Caller = 'gateway', audience: Callee = 'memory'): Promise<string> {
  const key = `${caller}>${audience}`;
  const hit = current.get(key);
  if (hit && Date.now() < hit.renewAt) return hit.token;
  const token = craftServiceToken({ sub: caller, aud: audience }, SERVICE_SECRETS[caller]);
  current.set(key, { token, renewAt: Date.now() + 240_000 });
  return token;
}

/** `{authorization}` for a direct call to memory or cognition, as `caller`. */
export async function serviceAuth(caller: Caller = 'gateway', audience: Callee = 'memory') {
  return { authorization: `Bearer ${await serviceToken(caller, audience)}` };
}

export interface CraftedClaims {
  sub?: unknown;
  aud?: unknown;
  /** Seconds from now (negative: in the past). Default 0. */
  iatOffsetS?: number;
  /** Lifetime `exp - iat` in seconds. Default 300. */
  lifetimeS?: number;
  [claim: string]: unknown;
}

/** A token with whatever claims and secret a refusal test needs; `sub`/`aud` default to gateway → memory. */
export function craftServiceToken(
  claims: CraftedClaims = {},
  secret = SERVICE_SECRETS.gateway,
): Promise<string> {
  const { sub = 'gateway', aud = 'memory', iatOffsetS = 0, lifetimeS = 300, ...rest } = claims;
  const iat = Math.floor(Date.now() / 1000) + iatOffsetS;
  return new SignJWT({ ...rest, sub, aud } as Record<string, unknown>)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetimeS)
    .sign(new TextEncoder().encode(secret));
}

/** An unsigned (`alg: none`) token with valid-looking claims. */
export function unsignedServiceToken(sub = 'gateway', aud = 'memory'): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub, aud, iat: now, exp: now + 60 })}.`;
}

/**
 * Checks a token an impostor received, as the real callee would (HS256, the caller's secret,
 * addressed to it, at most 5 minutes): the caller it names, or undefined.
 */
export async function verifiedCaller(
  authorization: string | undefined,
  audience: Callee,
): Promise<Caller | undefined> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  if (!token) return undefined;
  try {
    const sub = decodeJwt(token).sub;
    if (sub !== 'gateway' && sub !== 'cognition') return undefined;
    const { payload } = await jwtVerify(token, new TextEncoder().encode(SERVICE_SECRETS[sub]), {
      algorithms: ['HS256'],
      audience,
      requiredClaims: ['iat', 'exp'],
    });
    return (payload.exp as number) - (payload.iat as number) <= 300 ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** The environment each service gets: only the secrets it needs, as production gives them. */
export function serviceSecretsEnv(service: 'gateway' | 'memory' | 'cognition'): Record<string, string> {
  switch (service) {
    case 'gateway':
      return { GATEWAY_SERVICE_SECRET: SERVICE_SECRETS.gateway };
    case 'cognition':
      return {
        COGNITION_SERVICE_SECRET: SERVICE_SECRETS.cognition,
        GATEWAY_SERVICE_SECRET: SERVICE_SECRETS.gateway,
      };
    case 'memory':
      return {
        GATEWAY_SERVICE_SECRET: SERVICE_SECRETS.gateway,
        COGNITION_SERVICE_SECRET: SERVICE_SECRETS.cognition,
      };
  }
}
