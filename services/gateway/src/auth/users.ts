import { isStorableText } from '@cortex/service-kit';
import {
  type Credential,
  decoyCredential,
  parseScryptHash,
  plainDigest,
  verifyPassword,
} from './password-hash';

export interface LocalUser {
  name: string;
  id: string;
  credential: Credential;
}

/**
 * The longest user id the system takes, end to end (tokens, login, memory's URLs). Longer ids are
 * refused with 401 at token verification and at start-up in AUTH_USERS.
 */
const USER_ID_MAX = 100;

/** 1..100 characters of well-formed text without NUL: what memory can store and address. */
export function userIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id.length > USER_ID_MAX) return `is longer than ${USER_ID_MAX} characters`;
  if (!isStorableText(id)) return 'holds a NUL character or an unpaired surrogate';
  return undefined;
}

/**
 * `name:scrypt$N$r$p$salt$hash[:user_id]`, comma-separated. With `allowPlaintext` (never in
 * production) `name:password[:user_id]` too. Errors name the entry by position, never its text.
 */
export function parseUsers(spec: string, options: { allowPlaintext: boolean }): LocalUser[] {
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return entries.map((entry, i) => {
    const where = `entry ${i + 1}`;
    const parts = entry.split(':');
    const [name = '', secret = '', id = name, ...rest] = parts;
    if (!name || !secret || rest.length > 0) throw new Error(`${where} is not name:password-hash[:user_id]`);
    const problem = userIdProblem(id || name);
    if (problem) throw new Error(`${where}: the user id ${problem}`);
    let credential: Credential;
    if (secret.startsWith('scrypt$')) {
      try {
        credential = { kind: 'scrypt', hash: parseScryptHash(secret) };
      } catch (err) {
        throw new Error(`${where}: the password ${(err as Error).message}`);
      }
    } else if (options.allowPlaintext) {
      credential = { kind: 'plain', digest: plainDigest(secret) };
    } else {
      throw new Error(
        `${where} has a plaintext password; production takes scrypt hashes only (hash-password)`,
      );
    }
    return { name, id: id || name, credential };
  });
}

function findUser(users: readonly LocalUser[], name: string): LocalUser | undefined {
  return users.find((u) => u.name === name || u.id === name);
}

/**
 * Checks passwords for a set of users. The work does not depend on whether the name is known or
 * how much of the password is right: an unknown name is checked against a decoy with the same
 * parameters as the real users, and every comparison is constant-time.
 */
export class PasswordChecker {
  private readonly decoy: Credential;

  constructor(readonly users: readonly LocalUser[]) {
    this.decoy = decoyCredential(users.map((u) => u.credential));
  }

  find(name: string): LocalUser | undefined {
    return findUser(this.users, name);
  }

  async check(user: LocalUser | undefined, password: string): Promise<boolean> {
    const ok = await verifyPassword(user?.credential ?? this.decoy, password);
    return ok && user !== undefined;
  }
}
