import { timingSafeEqual } from 'node:crypto';

export interface LocalUser {
  name: string;
  password: string;
  id: string;
}

/** `name:password[:user_id]`, comma-separated: enough for local use, never for production. */
export function parseUsers(spec: string): LocalUser[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [name = '', password = '', id] = entry.split(':');
      return { name, password, id: id || name };
    })
    .filter((u) => u.name && u.password);
}

export function checkPassword(user: LocalUser | undefined, password: string): boolean {
  const expected = Buffer.from(user?.password ?? 'no-such-user-placeholder');
  const given = Buffer.from(password);
  const same = expected.length === given.length && timingSafeEqual(expected, given);
  return user !== undefined && same;
}
