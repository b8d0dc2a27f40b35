import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { http, isolatedSchemaUrl, type ServiceName, ServiceProcess, signToken } from '@cortex/testing';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { absoluteLinks, deployCommand, deployedPackages, devOnly } from '../infra/production-closure';
import { waitUntil } from './harness/wait';

// The production path end to end, without Docker: `pnpm build:js`, then the Dockerfile's own
// `pnpm deploy --prod` per service, then the three services started from those folders with
// `node dist/server.js` in production mode, real secrets set, and a user's input through them.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const SERVICES: ServiceName[] = ['memory', 'cognition', 'gateway'];
const secret = () => randomBytes(32).toString('hex');
const SECRETS = {
  JWT_SECRET: secret(),
  GATEWAY_SERVICE_SECRET: secret(),
  COGNITION_SERVICE_SECRET: secret(),
};

describe('the production build', () => {
  const out = mkdtempSync(join(tmpdir(), 'cortex-deploy-'));
  const processes: ServiceProcess[] = [];
  let dropSchema: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    await run('pnpm', ['build:js'], { cwd: ROOT });
    for (const name of SERVICES) {
      await run('pnpm', deployCommand(name, join(out, name)), { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    }
  }, 180_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await dropSchema?.();
    rmSync(out, { recursive: true, force: true });
  });

  it.each(SERVICES)(
    'installs %s with production dependencies only: no tsx, esbuild or dev dependency',
    (name) => {
      const dir = join(out, name);
      const installed = deployedPackages(dir);
      expect(installed.has('fastify')).toBe(true);
      const isDev = devOnly();
      expect([...installed].filter(isDev)).toEqual([]);
      for (const tool of ['tsx', 'esbuild', 'typescript', 'vitest'])
        expect(installed.has(tool), tool).toBe(false);
    },
  );

  it.each(SERVICES)('ships %s as built JavaScript: dist/server.js, no sources', (name) => {
    const dir = join(out, name);
    expect(existsSync(join(dir, 'dist/server.js'))).toBe(true);
    expect(existsSync(join(dir, 'src'))).toBe(false);
    // The image copies the folder elsewhere (/out to /app): every link must be relative.
    expect(absoluteLinks(dir)).toEqual([]);
    // Workspace packages are copied in with their dist only, and resolve to it.
    const store = join(dir, 'node_modules/.pnpm');
    const cortex = readdirSync(store).filter((e) => e.startsWith('@cortex+'));
    expect(cortex.length).toBeGreaterThan(0);
    for (const entry of cortex) {
      const pkgDir = join(store, entry, 'node_modules', entry.split('@file')[0]?.replace('+', '/') ?? '');
      expect(readdirSync(pkgDir).sort(), entry).not.toContain('src');
      expect(readdirSync(pkgDir), entry).toContain('dist');
    }
  });

  it('runs the three from their deploy folders with node dist/server.js, in production, end to end', async () => {
    const start = async (name: ServiceName, env: Record<string, string>) => {
      const p = new ServiceProcess(
        name,
        { NODE_ENV: 'production', LOG_LEVEL: 'info', ...SECRETS, ...env },
        { cwd: join(out, name), args: ['dist/server.js'] },
      );
      processes.push(p);
      return p.start();
    };
    // Memory on the run's PostgreSQL when there is one (a schema of its own), else embedded.
    const db = process.env.DATABASE_URL ? await isolatedSchemaUrl(process.env.DATABASE_URL) : undefined;
    dropSchema = db?.drop;
    const memory = await start('memory', db ? { DATABASE_URL: db.url } : {});
    const cognition = await start('cognition', { MEMORY_SERVICE_URL: memory.url });
    const gateway = await start('gateway', {
      MEMORY_SERVICE_URL: memory.url,
      COGNITION_SERVICE_URL: cognition.url,
      AUTH_USERS: '',
      PENDING_STORE_DIR: join(out, 'gateway-pending'),
    });
    for (const p of [memory, cognition, gateway]) {
      // What runs is node on the built entry, in the deploy folder (Linux /proc).
      expect(readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0')).toEqual([
        process.execPath,
        'dist/server.js',
        '',
      ]);
      expect(realpathSync(`/proc/${p.pid}/cwd`)).toBe(realpathSync(join(out, p.name)));
      await waitUntil(
        `${p.name} healthy`,
        async () => ((await http('GET', `${p.url}/health`)).status === 200 ? true : undefined),
        30_000,
      );
    }

    const token = await signToken({ oid: 'prod-build-user', name: 'prod' }, { secret: SECRETS.JWT_SECRET });
    const posted = await http('POST', `${gateway.url}/input`, {
      token,
      body: { content: 'built and running' },
    });
    expect(posted.status).toBe(200);
    await waitUntil(
      'the input in history',
      async () =>
        (await http('GET', `${gateway.url}/history?limit=5`, { token })).body?.count === 1 ? true : undefined,
      15_000,
    );
    // The console's static files and memory's migrations came along (module-relative paths).
    const page = await request(`${gateway.url}/`);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    await page.body.dump();
    // A token signed with anything but the operator's secret is refused.
    const forged = await signToken(
      { oid: 'prod-build-user' },
      { secret: 'cortex-dev-secret-change-me-0123456789' },
    );
    expect((await http('GET', `${gateway.url}/history`, { token: forged })).status).toBe(401);
  });
});
