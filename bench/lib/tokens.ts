import { SignJWT } from 'jose';

/** The secret every bench gives its gateway; tokens are signed with it (HS256, `oid` = user id). */
export const BENCH_SECRET = 'bench-secret-0123456789abcdef';

export function tokenFor(userId: string, secret = BENCH_SECRET): Promise<string> {
  return new SignJWT({ oid: userId, name: userId })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

/** `count` distinct users (`<prefix>-0` …), each with a bearer header ready to send. */
export async function usersWithTokens(count: number, prefix = 'bench-user') {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const id = `${prefix}-${i}`;
      return { id, authorization: `Bearer ${await tokenFor(id)}` };
    }),
  );
}
