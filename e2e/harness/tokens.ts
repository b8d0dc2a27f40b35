import { SignJWT } from 'jose';

export const TEST_SECRET = 'e2e-secret-0123456789abcdef';

export function signToken(
  claims: Record<string, unknown>,
  options: { secret?: string; expiresIn?: string | number; omitExp?: boolean } = {},
) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (!options.omitExp) jwt = jwt.setExpirationTime(options.expiresIn ?? '1h');
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export const tokenFor = (userId: string) => signToken({ oid: userId, name: userId });
