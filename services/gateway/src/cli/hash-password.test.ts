import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Credential, verifyPassword } from '../auth/password-hash';
import { parseUsers } from '../auth/users';

const SCRIPT = fileURLToPath(new URL('./hash-password.ts', import.meta.url));

describe('hash-password', () => {
  it('hashes the password read from stdin into an AUTH_USERS entry that checks', async () => {
    const run = spawnSync(process.execPath, ['--conditions=@cortex/source', '--import', 'tsx', SCRIPT], {
      input: 'pässword 1\n',
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    const hash = run.stdout.trim();
    expect(hash).not.toContain('pässword');
    const [user] = parseUsers(`ann:${hash}`, { allowPlaintext: false });
    const credential = user?.credential as Credential;
    expect(credential.kind).toBe('scrypt');
    expect(await verifyPassword(credential, 'pässword 1')).toBe(true);
    expect(await verifyPassword(credential, 'pässword 1\n')).toBe(false);
  });

  it('refuses an empty password', () => {
    const run = spawnSync(process.execPath, ['--conditions=@cortex/source', '--import', 'tsx', SCRIPT], {
      input: '',
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
  });
});
