import { createHash, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt parameters and output, as stored in AUTH_USERS: `scrypt$N$r$p$salt$hash` (base64url). */
export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** 2^15 × 8 × 128 B = 32 MiB and ~50-100 ms per check here: slow to guess, cheap to log in. */
const DEFAULT_SCRYPT = { N: 32_768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const B64URL = /^[A-Za-z0-9_-]+$/;

const memoryFor = (N: number, r: number, p: number) => 128 * N * r * (p + 1) + 1024 * 1024;

function derive(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
  length: number,
): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: memoryFor(N, r, p) };
  // The async form runs on the thread pool: a login never blocks the event loop for its 50+ ms.
  return new Promise((resolve, reject) =>
    scrypt(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Parses `scrypt$N$r$p$salt$hash`; the error never repeats the value. */
export function parseScryptHash(text: string): ScryptHash {
  const [tag, n, r, p, salt, hash, ...rest] = text.split('$');
  if (tag !== 'scrypt' || rest.length > 0 || !salt || !hash || !B64URL.test(salt) || !B64URL.test(hash))
    throw new Error('is not a scrypt$N$r$p$salt$hash password hash');
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  // Bounds keep a typo from making every login take seconds or gigabytes.
  if (!Number.isInteger(N) || N < 1024 || N > 1_048_576 || (N & (N - 1)) !== 0)
    throw new Error('has a scrypt N that is not a power of two from 1024 to 1048576');
  if (!Number.isInteger(R) || R < 1 || R > 32) throw new Error('has a scrypt r outside 1..32');
  if (!Number.isInteger(P) || P < 1 || P > 16) throw new Error('has a scrypt p outside 1..16');
  if (memoryFor(N, R, P) > 512 * 1024 * 1024) throw new Error('has scrypt parameters needing over 512 MiB');
  const saltBytes = Buffer.from(salt, 'base64url');
  const hashBytes = Buffer.from(hash, 'base64url');
  if (saltBytes.length < 16) throw new Error('has a salt shorter than 16 bytes');
  if (hashBytes.length < 16 || hashBytes.length > 64) throw new Error('has a hash not 16..64 bytes long');
  return { N, r: R, p: P, salt: saltBytes, hash: hashBytes };
}

function formatScryptHash(h: ScryptHash): string {
  return `scrypt$${h.N}$${h.r}$${h.p}$${h.salt.toString('base64url')}$${h.hash.toString('base64url')}`;
}

export async function hashPassword(
  password: string,
  params: { N: number; r: number; p: number } = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, params.N, params.r, params.p, KEY_LENGTH);
  return formatScryptHash({ ...params, salt, hash });
}

/** A plaintext password (development only) kept as its digest, compared in constant time. */
export const plainDigest = (password: string) => createHash('sha256').update(password, 'utf8').digest();

export type Credential = { kind: 'scrypt'; hash: ScryptHash } | { kind: 'plain'; digest: Buffer };

/**
 * What an unknown user's attempt is checked against, so that it costs what a known user's does:
 * a hash with the configured users' scrypt parameters (or, with plaintext users only, which is
 * development, a digest). It never matches: its hash is random and the caller refuses anyway.
 */
export function decoyCredential(like: readonly Credential[]): Credential {
  const scryptUser = like.find((c) => c.kind === 'scrypt');
  if (!scryptUser) return { kind: 'plain', digest: randomBytes(32) };
  const { N, r, p, hash } = scryptUser.hash;
  return { kind: 'scrypt', hash: { N, r, p, salt: randomBytes(16), hash: randomBytes(hash.length) } };
}

/** Whether `password` matches: one scrypt derivation (or digest) and a constant-time compare. */
export async function verifyPassword(credential: Credential, password: string): Promise<boolean> {
  if (credential.kind === 'plain') return timingSafeEqual(plainDigest(password), credential.digest);
  const h = credential.hash;
  const derived = await derive(password, h.salt, h.N, h.r, h.p, h.hash.length);
  return timingSafeEqual(derived, h.hash);
}
