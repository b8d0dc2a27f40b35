import { SignJWT } from 'jose';

/** The gateway's `JWT_SECRET` in every e2e system and bench stack (as strong as production requires). */
export const TEST_SECRET = 'e2e-user-token-secret-5d2b8f0e4a6c1e3b7d9f';

export function signToken(
  claims: Record<string, unknown>,
  options: { secret?: string; expiresIn?: string | number; omitExp?: boolean } = {},
) {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (!options.omitExp) jwt = jwt.setExpirationTime(options.expiresIn ?? '1h');
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

/** A user token for `userId` (`oid` = the id), signed with the gateway's test secret. */
export const tokenFor = (userId: string, expiresIn: string | number = '1h') =>
  signToken({ oid: userId, name: userId }, { expiresIn });

/** `count` distinct users (`<prefix>-0` …), each with a bearer header ready to send. */
export async function usersWithTokens(
  count: number,
  prefix = 'bench-user',
  expiresIn: string | number = '2h',
) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const id = `${prefix}-${i}`;
      return { id, authorization: `Bearer ${await tokenFor(id, expiresIn)}` };
    }),
  );
}
