import { z } from 'zod';

// PostgreSQL text and jsonb cannot hold NUL, and JSON may carry lone surrogates that Postgres
// rejects as invalid UTF-8. Rejecting them at the edge turns a would-be database 500 into a 400.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

function storableJson(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every((v) => storableJson(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([k, v]) => isStorableText(k) && storableJson(v, depth + 1));
  }
  return true;
}

const MESSAGE = 'must not contain NUL characters or unpaired surrogates';

export const storableString = () => z.string().refine(isStorableText, MESSAGE);

/** A JSON object that PostgreSQL's jsonb will accept (no NUL, no lone surrogates, depth <= 32). */
export const storableObject = () =>
  z
    .record(z.string(), z.unknown())
    .refine((v) => storableJson(v), `${MESSAGE}, nor nest deeper than 32 levels`);
