import { CortexError } from '@cortex/errors';
import { describe, expect, it } from 'vitest';
import { classifyDbError, isConnectionFailure, isStatementCancelled, mapDbError } from './db-errors';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('database error mapping', () => {
  it.each([
    ['refused', pgError('ECONNREFUSED')],
    ['reset', pgError('ECONNRESET')],
    ['admin shutdown', pgError('57P01')],
    ['connection exception class', pgError('08006')],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['lost mid-query', new Error('Connection terminated unexpectedly')],
    ['no answer at all', new Error('Query read timeout')],
    ['broken client reused', new Error('Client has encountered a connection error and is not queryable')],
  ])('%s is a connection failure: 503 and the gate takes the database out', (_, err) => {
    expect(classifyDbError(err)).toBe('connection');
    expect(isConnectionFailure(err)).toBe(true);
    expect(mapDbError(err)).toMatchObject({ code: 'service_unavailable', retryAfterMs: 1000 });
  });

  it('tells a cancelled statement (its own timeout) from every other failure', () => {
    expect(isStatementCancelled(pgError('57014'))).toBe(true);
    for (const err of [
      pgError('57P01'),
      pgError('55P03'),
      pgError('53300'),
      pgError('ECONNREFUSED'),
      new Error('Query read timeout'),
      new CortexError('service_unavailable', 'x'),
      undefined,
    ]) {
      expect(isStatementCancelled(err)).toBe(false);
    }
  });

  it('a slow statement or a full server is 503 but leaves the database in use', () => {
    for (const code of ['57014', '53300']) {
      expect(classifyDbError(pgError(code))).toBe('busy');
      expect(isConnectionFailure(pgError(code))).toBe(false);
      expect(mapDbError(pgError(code)).code).toBe('service_unavailable');
    }
  });

  it('data PostgreSQL cannot hold is the caller’s 400; anything else a 500 without SQL', () => {
    expect(mapDbError(pgError('22P05')).code).toBe('invalid_request');
    const other = mapDbError(pgError('42P01', 'relation "inputs" does not exist'));
    expect(other.code).toBe('tool_execution_error');
    expect(other.message).not.toMatch(/inputs/);
  });

  it('passes our own errors through untouched', () => {
    const own = new CortexError('service_unavailable', 'gate');
    expect(mapDbError(own)).toBe(own);
    expect(isConnectionFailure(own)).toBe(false);
  });
});
