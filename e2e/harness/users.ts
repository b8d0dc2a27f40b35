import { hashPassword } from '../../services/gateway/src/auth/password-hash';

/**
 * `AUTH_USERS` holding the console's demo user (`demo` / `demo`, id `demo-user`) as production
 * takes it: a scrypt hash. Cheap parameters: the format is production's, the cost the test's.
 */
export async function demoAuthUsers(): Promise<string> {
  return `demo:${await hashPassword('demo', { N: 1024, r: 8, p: 1 })}:demo-user`;
}
