import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cognitionEnvSchema, loadCognitionEnv } from '../services/cognition/src/env';
import { gatewayEnvSchema, loadGatewayEnv } from '../services/gateway/src/env';
import { loadMemoryEnv, memoryEnvSchema } from '../services/memory/src/env';
import { environmentOf, interpolate, loadCompose, publishedPorts, REPO_ROOT } from './compose-file';
import { execForm, last, readDockerfile } from './dockerfile';

// No Docker engine runs here: these check the files' structure, and run the health-check
// commands themselves against a real socket.

const PORTS = { gateway: 8000, memory: 9000, cognition: 9100 } as const;
const SERVICES = Object.keys(PORTS) as (keyof typeof PORTS)[];
const compose = loadCompose();
const service = (name: string) => {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

describe('compose interpolation (test support)', () => {
  it('uses defaults and refuses variables that have none', () => {
    // Written with % for $, so that they do not read as misplaced JS template placeholders.
    const [defaults = '', required = '', bare = ''] = [
      '%{A:-x}/%{B-y}/$$',
      '%{JWT_SECRET:?set JWT_SECRET}',
      '%{JWT_SECRET}',
    ].map((s) => s.replaceAll('%{', '${'));
    expect(interpolate(defaults)).toBe('x/y/$');
    expect(() => interpolate(required)).toThrow(/JWT_SECRET/);
    expect(() => interpolate(bare)).toThrow(/JWT_SECRET/);
  });
});

describe('docker-compose.yml', () => {
  it('has postgres and the three services, each built from its Dockerfile at the repo root', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', ...SERVICES]));
    expect(service('postgres').image).toMatch(/^postgres:16-alpine$/);
    for (const name of SERVICES) {
      expect(service(name).build).toEqual({ context: '.', dockerfile: `services/${name}/Dockerfile` });
    }
  });

  it('publishes each service on its contract port, listening on all interfaces in the container', () => {
    for (const name of SERVICES) {
      const s = service(name);
      expect(publishedPorts(s)).toContainEqual(
        expect.objectContaining({ host: PORTS[name], container: PORTS[name] }),
      );
      expect(environmentOf(s)).toMatchObject({ HOST: '0.0.0.0', PORT: String(PORTS[name]) });
    }
  });

  it('gives every service a health check and a restart policy', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.healthcheck?.test?.length, name).toBeGreaterThan(1);
      expect(s.healthcheck?.disable, name).not.toBe(true);
      expect(s.restart, name).toBe('unless-stopped');
    }
  });

  it('starts along postgres → memory → cognition → gateway, each waiting for the previous to be healthy', () => {
    const healthy = { condition: 'service_healthy' };
    expect(service('postgres').depends_on).toBeUndefined();
    expect(service('memory').depends_on).toEqual({ postgres: healthy });
    expect(service('cognition').depends_on).toEqual({ memory: healthy });
    expect(service('gateway').depends_on).toEqual({ memory: healthy, cognition: healthy });
  });

  it('points memory at the postgres service with the credentials postgres is created with', () => {
    const pg = environmentOf(service('postgres'));
    const url = new URL(environmentOf(service('memory')).DATABASE_URL ?? '');
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
  });

  it('points cognition and the gateway at the other services by compose name and port', () => {
    expect(environmentOf(service('cognition')).MEMORY_SERVICE_URL).toBe('http://memory:9000');
    expect(environmentOf(service('gateway'))).toMatchObject({
      MEMORY_SERVICE_URL: 'http://memory:9000',
      COGNITION_SERVICE_URL: 'http://cognition:9100',
    });
  });

  it('keeps the gateway pending store on a named volume', () => {
    const gateway = service('gateway');
    const dir = environmentOf(gateway).PENDING_STORE_DIR ?? '';
    const mount = (gateway.volumes ?? [])
      .map((v) => v.split(':'))
      .find(([, target]) => target !== undefined && (dir === target || dir.startsWith(`${target}/`)));
    expect(mount, `a volume holding ${dir}`).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(mount?.[0]);
  });

  it('gives each service an environment its own start-up validation accepts, as in the image', () => {
    // The images set NODE_ENV=production, where the gateway insists on a JWT_SECRET.
    const env = (name: string) => ({ NODE_ENV: 'production', ...environmentOf(service(name)) });
    const gateway = loadGatewayEnv(env('gateway'));
    expect(gateway.usingDevSecret).toBe(false);
    // No demo users in production: login users come from the operator's AUTH_USERS (hashes).
    expect(gateway.users).toEqual([]);
    expect(loadMemoryEnv(env('memory')).DATABASE_URL).toBeDefined();
    expect(loadCognitionEnv(env('cognition')).MEMORY_SERVICE_URL).toEqual(['http://memory:9000']);
  });

  it('sets only variables the services read (a misspelt one would be silently ignored)', () => {
    const known = {
      gateway: Object.keys(gatewayEnvSchema.in.shape),
      memory: Object.keys(memoryEnvSchema.shape),
      cognition: Object.keys(cognitionEnvSchema.shape),
    };
    for (const name of SERVICES) {
      expect(Object.keys(environmentOf(service(name))), name).toSatisfy((keys: string[]) =>
        keys.every((k) => known[name].includes(k)),
      );
    }
  });
});

describe.each(SERVICES)('services/%s/Dockerfile', (name) => {
  const path = `${REPO_ROOT}services/${name}/Dockerfile`;
  const stages = existsSync(path) ? readDockerfile(path) : [];
  const runtime = stages.at(-1);

  it('is multi-stage, installing from the lockfile with pnpm and running on node 20 slim', () => {
    expect(existsSync(path)).toBe(true);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime?.from).toBe('node:20-bookworm-slim');
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
    expect(runs.join('\n')).toContain('corepack enable');
    expect(runs.join('\n')).toContain(
      `pnpm install --offline --frozen-lockfile --filter "@cortex/${name}..."`,
    );
  });

  it('runs the service as node (PID 1) from its folder, unprivileged, in production mode', () => {
    if (!runtime) throw new Error('no stages');
    expect(last(runtime, 'USER')).toMatch(/^(node|1000)$/);
    expect(last(runtime, 'WORKDIR')).toBe(`/app/services/${name}`);
    expect(last(runtime, 'ENV')).toMatch(/\bNODE_ENV=production\b/);
    expect(last(runtime, 'ENV')).toMatch(new RegExp(`\\bPORT=${PORTS[name]}\\b`));
    expect(execForm(last(runtime, 'CMD') ?? '')).toEqual(['node', '--import', 'tsx', 'src/server.ts']);
  });

  it('exposes the contract port and has a health check', () => {
    if (!runtime) throw new Error('no stages');
    expect(last(runtime, 'EXPOSE')?.split(/\s+/)).toContain(String(PORTS[name]));
    expect(last(runtime, 'HEALTHCHECK')).toMatch(/\bCMD \[/);
  });

  it('uses only files the build context keeps', () => {
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));
    for (const script of runs.join(' ').match(/infra\/[\w./-]+\.ts/g) ?? []) {
      expect(existsSync(`${REPO_ROOT}${script}`), script).toBe(true);
    }
    const ignore = readFileSync(`${REPO_ROOT}.dockerignore`, 'utf8').split('\n');
    expect(ignore).toContain('**/node_modules');
    expect(ignore.indexOf('!infra/docker')).toBeGreaterThan(ignore.indexOf('infra'));
  });
});

describe('health-check commands', () => {
  const run = promisify(execFile);
  const imageChecks = SERVICES.map((name) => {
    const runtime = readDockerfile(`${REPO_ROOT}services/${name}/Dockerfile`).at(-1);
    const args = (runtime && last(runtime, 'HEALTHCHECK')) ?? '';
    return execForm(args.slice(args.indexOf('CMD ') + 4));
  });
  const composeChecks = SERVICES.map((name) => service(name).healthcheck?.test.slice(1) ?? []);

  it('is one command, the same in every image and in compose', () => {
    expect(new Set([...imageChecks, ...composeChecks].map((argv) => JSON.stringify(argv))).size).toBe(1);
  });

  /** Exit code of the check against a server on an ephemeral port that answers `status`. */
  async function exitCode(argv: string[], status: number | 'closed') {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status === 'closed' ? 500 : status, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    if (status === 'closed') await new Promise((resolve) => server.close(resolve));
    const [command, ...rest] = argv;
    expect(command).toBe('node');
    try {
      await run(process.execPath, rest, { env: { PORT: String(port) }, timeout: 15_000 });
      return { code: 0, paths };
    } catch (err) {
      return { code: (err as { code?: number }).code, paths };
    } finally {
      server.close();
    }
  }

  it('passes on 200 from /health, fails on 503 or no answer', async () => {
    const argv = imageChecks[0] ?? [];
    expect(await exitCode(argv, 200)).toEqual({ code: 0, paths: ['/health'] });
    expect((await exitCode(argv, 503)).code).toBe(1);
    expect((await exitCode(argv, 'closed')).code).toBe(1);
  });
});
