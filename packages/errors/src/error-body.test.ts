import { describe, expect, it } from 'vitest';
import { inBandError, toErrorBody } from './error-body';

describe('inBandError', () => {
  it("is the contract's bare error object, nothing else", () => {
    const body = toErrorBody({ code: 'service_unavailable', message: 'db down', requestId: 'r' });
    expect(inBandError(body)).toEqual(body);
    expect(inBandError({ error: { code: 'made_up', message: 'still an error object' } })).toMatchObject({
      error: { code: 'made_up' },
    });
  });

  it.each([
    ['a task_failed event', { type: 'task_failed', id: 't', error: 'every backend failed' }],
    ['a typed item with an error object', { type: 'x', error: { code: 'timeout', message: 'm' } }],
    ['an error string', { error: 'boom' }],
    ['an error object without a message', { error: { code: 'timeout' } }],
    ['an input', { type: 'input', id: 'i', content: 'c' }],
    ['the end marker', { end: true }],
    ['an array', [{ error: { code: 'timeout', message: 'm' } }]],
    ['null', null],
    ['a string', 'error'],
  ])('is not %s', (_label, item) => {
    expect(inBandError(item)).toBeUndefined();
  });
});
