import { describe, expect, it } from 'vitest';
import { decoyCredential, hashPassword, parseScryptHash } from './password-hash';
import { PasswordChecker, parseUsers } from './users';

// Cheap parameters keep the suite fast; the format and the comparison are what is under test.
const FAST = { N: 1024, r: 8, p: 1 };

describe('AUTH_USERS', () => {
  it('takes scrypt hashes made by hashPassword, and checks passwords against them', async () => {
    const hash = await hashPassword('correct horse', FAST);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const users = parseUsers(`ann:${hash}:ann-id,bob:${await hashPassword('b', FAST)}`, {
      allowPlaintext: false,
    });
    expect(users.map((u) => [u.name, u.id])).toEqual([
      ['ann', 'ann-id'],
      ['bob', 'bob'],
    ]);
    const checker = new PasswordChecker(users);
    const ann = checker.find('ann');
    expect(checker.find('ann-id')).toBe(ann);
    expect(await checker.check(ann, 'correct horse')).toBe(true);
    expect(await checker.check(ann, 'correct horsf')).toBe(false);
    expect(await checker.check(ann, '')).toBe(false);
    expect(await checker.check(undefined, 'correct horse')).toBe(false);
    // Two hashes of one password differ (salted).
    expect(await hashPassword('x', FAST)).not.toBe(await hashPassword('x', FAST));
  });

  it('accepts plaintext only when allowed (never in production), compared in constant time', async () => {
    expect(() => parseUsers('ann:pw', { allowPlaintext: false })).toThrow(/plaintext password/);
    const checker = new PasswordChecker(parseUsers('ann:pw', { allowPlaintext: true }));
    const ann = checker.find('ann');
    expect(await checker.check(ann, 'pw')).toBe(true);
    expect(await checker.check(ann, 'pw2')).toBe(false);
    expect(await checker.check(ann, 'p')).toBe(false);
    expect(await checker.check(undefined, 'pw')).toBe(false);
  });

  it('refuses malformed entries and ids naming the entry, never echoing its secret', () => {
    const secret = 'Sup3r-secret-value';
    const cases: [string, RegExp][] = [
      [`ann:${secret}:id:extra`, /entry 1 is not name:password-hash/],
      [`ann:scrypt$1000$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`, /power of two/],
      [`ann:scrypt$1024$8$1$short$${'B'.repeat(43)}`, /salt shorter/],
      [`ann:scrypt$1024$8$1$${'A'.repeat(22)}`, /not a scrypt/],
      [`ok:${secret},ann:${secret}:${'x'.repeat(101)}`, /entry 2: the user id is longer than 100/],
      [`ann:${secret}:a\u0000b`, /NUL/],
    ];
    for (const [spec, message] of cases) {
      let thrown: Error | undefined;
      try {
        parseUsers(spec, { allowPlaintext: true });
      } catch (err) {
        thrown = err as Error;
      }
      expect(thrown?.message, spec).toMatch(message);
      expect(thrown?.message).not.toContain(secret);
    }
    expect(parseUsers('', { allowPlaintext: true })).toEqual([]);
  });

  it('bounds scrypt parameters so a typo cannot make each login take gigabytes', () => {
    expect(() => parseScryptHash(`scrypt$4194304$8$1$${'A'.repeat(22)}$${'B'.repeat(43)}`)).toThrow(
      /power of two/,
    );
    expect(() => parseScryptHash(`scrypt$1048576$32$16$${'A'.repeat(22)}$${'B'.repeat(43)}`)).toThrow(
      /512 MiB/,
    );
  });

  it('checks an unknown name against a decoy with the real users’ scrypt parameters', () => {
    // Not a timing assertion (the machine is shared): the decoy must cost what a real user costs.
    const users = parseUsers(`ann:scrypt$2048$4$2$${'A'.repeat(22)}$${'B'.repeat(43)}`, {
      allowPlaintext: false,
    });
    const decoy = decoyCredential(users.map((u) => u.credential));
    expect(decoy).toMatchObject({ kind: 'scrypt', hash: { N: 2048, r: 4, p: 2 } });
    expect(decoy.kind === 'scrypt' && decoy.hash.hash.length).toBe(32);
    expect(decoyCredential([]).kind).toBe('plain');
  });
});
