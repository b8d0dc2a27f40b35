import { SignJWT } from 'jose';

/** The gateway's service secret in every bench stack (memory verifies with it). */
export const BENCH_GATEWAY_SERVICE_SECRET = 'bench-gateway-service-secret-0123456789abcdef';

let current: { token: Promise<string>; renewAt: number } | undefined;

/**
 * `{authorization}` for a bench calling memory directly, as the gateway would: a service token
 * (HS256, `sub: gateway`, `aud: memory`, 5 minutes), replaced a minute before it expires.
 */
export async function gatewayServiceAuth(secret = BENCH_GATEWAY_SERVICE_SECRET) {
  if (!current || Date.now() >= current.renewAt) {
    const iat = Math.floor(Date.now() / 1000);
    current = {
      token: new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('gateway')
        .setAudience('memory')
        .setIssuedAt(iat)
        .setExpirationTime(iat + 300)
        .sign(new TextEncoder().encode(secret)),
      renewAt: Date.now() + 240_000,
    };
  }
  return { authorization: `Bearer ${await current.token}` };
}
