import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './retry-after';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');

  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Tue, 01 Dec 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2_000);
  });

  it('ignores what is neither, rather than reading it as "now"', () => {
    // V8's Date.parse reads "1.5" as 2001-01-05 and "-1" as 2001-01-01: both would mean "retry now".
    for (const v of ['1.5', '-1', 'soon', '', undefined])
      expect(parseRetryAfter(v, now), String(v)).toBeUndefined();
  });
});
