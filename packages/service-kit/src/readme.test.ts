import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The README's export table is the package's map: every name the entry point exports is in it.
const index = readFileSync(new URL('./index.ts', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

const exported = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((m) =>
  (m[1] as string)
    .split(',')
    .map((name) => name.replace(/^\s*type\s+/, '').trim())
    .filter((name) => name !== ''),
);

describe("service-kit's README", () => {
  it('reads the exports of the entry point', () => {
    expect(exported).toContain('createServiceApp');
    expect(exported.length).toBeGreaterThan(20);
  });

  it.each(exported)('lists %s', (name) => {
    expect(readme).toContain(`\`${name}\``);
  });
});
