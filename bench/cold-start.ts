/**
 * Cold start and idle memory per service, the old way (TypeScript through tsx) against the built
 * way (`node dist/server.js` from the production install the image holds).
 *   pnpm bench:coldstart            (COLDSTART_RUNS=3 per service and way, IDLE_MS=2000)
 *
 * - cold start: from spawning the process to the first `/health` answered 200;
 * - RSS at idle: the process's resident memory IDLE_MS after that (the tsx way includes tsx's
 *   loader thread and esbuild's service, both inside that process);
 * - install size: the production install folder (`pnpm deploy --prod`, what the Dockerfile copies
 *   into the image), and for the tsx way the same plus the sources and tsx's own closure that the
 *   old image laid over it. No Docker engine runs here, so these stand in for image sizes (the
 *   base image, ~200 MB for node:24-bookworm-slim, comes on top of both).
 *
 * Both ways run with NODE_ENV=production and the same secrets; memory on PostgreSQL
 * (DATABASE_URL, a fresh schema); cognition and the gateway alone (their /health answers 200,
 * "warning", while memory is away). Runs alternate between the two ways so load drifts hit both.
 */

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, isolatedSchemaUrl } from '@cortex/testing';
import { request } from 'undici';
import { deployCommand } from '../infra/production-closure';
import { DATABASE_URL, envNumber, machineNote } from './lib/env';
import { printJson, printTable, progress } from './lib/report';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = envNumber('COLDSTART_RUNS', 3);
const IDLE_MS = envNumber('IDLE_MS', 2000);
const SERVICES = ['memory', 'cognition', 'gateway'] as const;
type Service = (typeof SERVICES)[number];
type Way = 'tsx' | 'built';
const run = promisify(execFile);

const secret = () => randomBytes(32).toString('hex');
const SECRETS = {
  JWT_SECRET: secret(),
  GATEWAY_SERVICE_SECRET: secret(),
  COGNITION_SERVICE_SECRET: secret(),
};

/** Bytes under a folder, symlinks not followed (pnpm's node_modules links inside the folder). */
function sizeOf(path: string): number {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st || st.isSymbolicLink()) return 0;
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

/** What the old image added to the production install: tsx's closure in the store. */
function tsxClosureBytes(): number {
  const store = join(ROOT, 'node_modules/.pnpm');
  return readdirSync(store)
    .filter((e) => /^(tsx|esbuild|@esbuild\+linux-x64|get-tsconfig|resolve-pkg-maps)@/.test(e))
    .reduce((sum, e) => sum + sizeOf(join(store, e)), 0);
}

async function rssKb(pid: number): Promise<number> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

async function once(service: Service, way: Way, out: string, memoryEnv: Record<string, string>) {
  const port = await freePort();
  const [cwd, args] =
    way === 'tsx'
      ? [join(ROOT, 'services', service), ['--conditions=@cortex/source', '--import', 'tsx', 'src/server.ts']]
      : [join(out, service), ['dist/server.js']];
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    AUTH_USERS: '',
    // Nothing listens on port 9 (discard): the dependents start without memory and cognition.
    MEMORY_SERVICE_URL: 'http://127.0.0.1:9',
    COGNITION_SERVICE_URL: 'http://127.0.0.1:9',
    PENDING_STORE_DIR: join(out, `pending-${way}-${port}`),
    ...SECRETS,
    ...(service === 'memory' ? memoryEnv : {}),
  };
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${service} (${way}) exited: ${stderr.slice(-500)}`);
      if (performance.now() - started > 60_000) throw new Error(`${service} (${way}) not healthy in 60 s`);
      try {
        const res = await request(`http://127.0.0.1:${port}/health`, { headersTimeout: 1000 });
        await res.body.dump();
        if (res.statusCode === 200) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 10));
    }
    const coldMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const rss = await rssKb(child.pid ?? 0);
    return { coldMs, rssMb: rss / 1024 };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

const out = mkdtempSync(join(tmpdir(), 'cortex-coldstart-'));
const schema = await isolatedSchemaUrl(DATABASE_URL);
try {
  progress('building (pnpm build:js) and installing each service as the image does (pnpm deploy --prod)');
  await run('pnpm', ['build:js'], { cwd: ROOT });
  for (const s of SERVICES) {
    await run('pnpm', deployCommand(s, join(out, s)), { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  }
  const memoryEnv = { DATABASE_URL: schema.url };
  const samples: Record<string, { coldMs: number[]; rssMb: number[] }> = {};
  for (const s of SERVICES) {
    // One unmeasured start per way: memory's migrations, and the file cache, are then warm for both.
    for (const way of ['tsx', 'built'] as Way[]) await once(s, way, out, memoryEnv);
    for (let i = 0; i < RUNS; i++) {
      for (const way of (i % 2 === 0 ? ['tsx', 'built'] : ['built', 'tsx']) as Way[]) {
        const r = await once(s, way, out, memoryEnv);
        const key = `${s}/${way}`;
        samples[key] ??= { coldMs: [], rssMb: [] };
        samples[key].coldMs.push(r.coldMs);
        samples[key].rssMb.push(r.rssMb);
        progress(`${key} run ${i + 1}: ${Math.round(r.coldMs)} ms to healthy, ${r.rssMb.toFixed(1)} MB RSS`);
      }
    }
  }

  const tsxBytes = tsxClosureBytes();
  const result: Record<string, unknown> = { runs: RUNS, idle_ms: IDLE_MS, machine: await machineNote() };
  const rows: (string | number)[][] = [];
  for (const s of SERVICES) {
    const tsx = samples[`${s}/tsx`];
    const built = samples[`${s}/built`];
    if (!tsx || !built) continue;
    const installMb = sizeOf(join(out, s)) / 1e6;
    const packagesSrc = readdirSync(join(ROOT, 'packages')).reduce(
      (n, p) => n + sizeOf(join(ROOT, 'packages', p, 'src')),
      0,
    );
    const srcMb = (sizeOf(join(ROOT, 'services', s, 'src')) + packagesSrc) / 1e6;
    const before = {
      cold_ms: median(tsx.coldMs),
      rss_mb: median(tsx.rssMb),
      install_mb: installMb + tsxBytes / 1e6 + srcMb,
    };
    const after = { cold_ms: median(built.coldMs), rss_mb: median(built.rssMb), install_mb: installMb };
    result[s] = {
      tsx: before,
      built: after,
      cold_ratio: after.cold_ms / before.cold_ms,
      rss_ratio: after.rss_mb / before.rss_mb,
    };
    rows.push(
      [s, 'tsx (before)', Math.round(before.cold_ms), before.rss_mb.toFixed(1), before.install_mb.toFixed(1)],
      [s, 'built (after)', Math.round(after.cold_ms), after.rss_mb.toFixed(1), after.install_mb.toFixed(1)],
    );
  }
  printTable(
    `Cold start to /health 200 and RSS at idle (medians of ${RUNS}); production install size`,
    ['service', 'way', 'cold start ms', 'RSS MB', 'install MB'],
    rows,
  );
  printJson(result);
} finally {
  await schema.drop();
  rmSync(out, { recursive: true, force: true });
}
