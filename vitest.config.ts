import { defineConfig } from 'vitest/config';

// Three projects: unit tests sit beside the code; e2e and browser tests start real processes and
// share one PostgreSQL, so they run one file at a time to keep this 2-core machine from thrashing.
// Each settles its PostgreSQL first (DATABASE_URL, else testcontainers, else embedded only).
const globalSetup = ['e2e/harness/global-setup.ts'];
// Workspace packages resolve to their TypeScript sources through the "@cortex/source" export
// condition (their "default" is the built dist/, which a fresh clone does not have).
// The rest are Vite's defaults for server code, which setting `conditions` replaces, less
// `module`: Node never uses it, and OpenTelemetry's `module` builds import files without their
// extensions, which Node's loader refuses.
const conditions = ['@cortex/source', 'node', 'development|production'];
const resolve = { conditions };
const ssr = { resolve: { conditions } };

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: 'unit',
          include: [
            'packages/*/src/**/*.test.ts',
            'services/*/src/**/*.test.ts',
            'infra/**/*.test.ts',
            'e2e/harness/**/*.test.ts',
            'scripts/**/*.test.ts',
            'docs/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**'],
          globalSetup,
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          exclude: ['e2e/browser/**', 'e2e/harness/**', '**/node_modules/**'],
          globalSetup,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'browser',
          include: ['e2e/browser/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup,
          testTimeout: 90_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
