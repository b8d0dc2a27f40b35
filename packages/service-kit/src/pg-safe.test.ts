import { describe, expect, it } from 'vitest';
import { isStorableText, storableObject } from './pg-safe';

describe('storable text', () => {
  it('rejects NUL and lone surrogates, accepts paired ones', () => {
    expect(isStorableText('plain ✓')).toBe(true);
    expect(isStorableText('emoji 😀')).toBe(true);
    expect(isStorableText('nul \u0000 here')).toBe(false);
    expect(isStorableText('lone \uD800 high')).toBe(false);
    expect(isStorableText('lone \uDC00 low')).toBe(false);
  });

  it('checks nested JSON keys and values', () => {
    expect(storableObject().safeParse({ a: [{ b: 'ok' }] }).success).toBe(true);
    expect(storableObject().safeParse({ a: [{ b: 'x\u0000' }] }).success).toBe(false);
    expect(storableObject().safeParse({ 'k\u0000': 1 }).success).toBe(false);
  });
});
