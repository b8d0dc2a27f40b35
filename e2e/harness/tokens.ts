import { SignJWT } from 'jose';

/** The gateway's `JWT_SECRET` in every e2e system (as strong as production requires). */
export const TEST_SECRET = 'e2e-user-token-secret-5d2b8f0e4a6c1e3b7d9f';

export function signToken(
  claims: Record<string, unknown>,
  options: { secret?: string; expiresIn?: string | number; omitExp?: boolean } = {},
) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (!options.omitExp) jwt = jwt.setExpirationTime(options.expiresIn ?? '1h');
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export const tokenFor = (userId: string) => signToken({ oid: userId, name: userId });
