import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cognitionEnvSchema, loadCognitionEnv } from '../services/cognition/src/env';
import { gatewayEnvSchema, loadGatewayEnv } from '../services/gateway/src/env';
import { loadMemoryEnv, memoryEnvSchema } from '../services/memory/src/env';
import {
  type ComposeFile,
  environmentOf,
  interpolate,
  loadCompose,
  parseEnvFile,
  publishedPorts,
  REPO_ROOT,
  readComposeYaml,
  variableRefs,
} from './compose-file';
import { composeSafetyProblems } from './compose-safety';
import { execForm, expand, last, readDockerfile, resolveLastStage } from './dockerfile';

// No Docker engine runs here: these check the files' structure, and run the health-check
// commands themselves against a real socket.

const PORTS = { gateway: 8000, memory: 9000, cognition: 9100 } as const;
const SERVICES = Object.keys(PORTS) as (keyof typeof PORTS)[];
/** The contract's service secrets ("Service wire format"), read by the services' auth. */
const SERVICE_SECRETS = ['GATEWAY_SERVICE_SECRET', 'COGNITION_SERVICE_SECRET'];
/** OpenTelemetry's standard variables: read by its SDK in each service, not by env.ts. */
const OTEL_VARS = ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL'];
const secret = () => randomBytes(32).toString('hex');
/** What an operator sets (.env): a distinct random value per secret. */
const VARS = {
  JWT_SECRET: secret(),
  GATEWAY_SERVICE_SECRET: secret(),
  COGNITION_SERVICE_SECRET: secret(),
  POSTGRES_PASSWORD: secret(),
  AUTH_USERS: '',
};
const compose = loadCompose(VARS);
const service = (name: string, file: ComposeFile = compose) => {
  const s = file.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};
const raw = readComposeYaml();
const debugPath = `${REPO_ROOT}docker-compose.debug.yml`;
const envExample = readFileSync(`${REPO_ROOT}.env.example`, 'utf8');
const dockerfileText = readFileSync(`${REPO_ROOT}Dockerfile`, 'utf8');

describe('compose interpolation (test support)', () => {
  it('uses defaults, and refuses required variables unset (or empty, with the colon)', () => {
    // Written with % for $, so that they do not read as misplaced JS template placeholders.
    const [defaults = '', required = '', optional = '', bare = ''] = [
      '%{A:-x}/%{B-y}/$$',
      '%{JWT_SECRET:?set JWT_SECRET}',
      '%{AUTH_USERS?set AUTH_USERS}',
      '%{JWT_SECRET}',
    ].map((s) => s.replaceAll('%{', '${'));
    expect(interpolate(defaults)).toBe('x/y/$');
    expect(interpolate(defaults, { A: 'a', B: '' })).toBe('a//$');
    expect(() => interpolate(required)).toThrow(/JWT_SECRET/);
    expect(() => interpolate(required, { JWT_SECRET: '' })).toThrow(/JWT_SECRET/);
    expect(interpolate(required, { JWT_SECRET: 's' })).toBe('s');
    expect(() => interpolate(optional)).toThrow(/AUTH_USERS/);
    expect(interpolate(optional, { AUTH_USERS: '' })).toBe('');
    expect(interpolate(bare)).toBe('');
    expect(variableRefs(required)).toEqual([{ name: 'JWT_SECRET', op: ':?', arg: 'set JWT_SECRET' }]);
  });
});

describe('docker-compose.yml', () => {
  it('has postgres and the three services, each built from the one Dockerfile with its SERVICE', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', ...SERVICES]));
    expect(service('postgres').image).toMatch(/^postgres:16-alpine$/);
    for (const name of SERVICES) {
      const build = service(name).build;
      expect(build?.context).toBe('.');
      expect(build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
      expect(build?.args).toEqual({ SERVICE: name });
    }
  });

  it('does not start without its secrets: each one named in .env.example is required', () => {
    expect(() => loadCompose({})).toThrow(/is required/);
    const required = [
      ...new Set(
        variableRefs(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8'))
          .filter((r) => r.op === ':?' || r.op === '?')
          .map((r) => r.name),
      ),
    ];
    expect(required.sort()).toEqual(Object.keys(VARS).sort());
    for (const name of required) {
      const { [name]: _, ...without } = VARS as Record<string, string>;
      expect(() => loadCompose(without), name).toThrow(new RegExp(name));
    }
  });

  it('is safe by default: no defaulted secret, no published internal port, no demo user', () => {
    expect(composeSafetyProblems(raw)).toEqual([]);
  });

  it('publishes only the gateway, on its contract port; every service listens on all interfaces inside', () => {
    for (const name of SERVICES) {
      expect(environmentOf(service(name))).toMatchObject({ HOST: '0.0.0.0', PORT: String(PORTS[name]) });
    }
    const published = Object.entries(compose.services).filter(([, s]) => (s.ports ?? []).length > 0);
    // Besides the gateway, only the monitoring profile's UIs, on loopback (next test).
    expect(published.map(([name]) => name).sort()).toEqual(['gateway', 'grafana', 'jaeger']);
    expect(publishedPorts(service('gateway'))).toEqual([
      { address: '127.0.0.1', host: 8000, container: 8000 },
    ]);
  });

  it('runs Jaeger and Grafana in the monitoring profile, their UIs on 127.0.0.1 only, images pinned', () => {
    for (const name of ['prometheus', 'jaeger', 'grafana']) {
      expect(service(name).profiles, name).toEqual(['monitoring']);
      expect(service(name).image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
      expect(service(name).networks, name).toContain('internal');
    }
    expect(publishedPorts(service('jaeger'))).toEqual([
      { address: '127.0.0.1', host: 16686, container: 16686 },
    ]);
    expect(publishedPorts(service('grafana'))).toEqual([
      { address: '127.0.0.1', host: 3000, container: 3000 },
    ]);
    // Docker publishes nothing from a container that is only on internal networks.
    for (const name of ['jaeger', 'grafana']) {
      expect(
        service(name).networks?.some((n) => compose.networks?.[n]?.internal !== true),
        name,
      ).toBe(true);
    }
    // No login (so no secret to set), anonymous viewers only, nothing phoned home.
    expect(environmentOf(service('grafana'))).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      GF_AUTH_DISABLE_LOGIN_FORM: 'true',
      GF_ANALYTICS_REPORTING_ENABLED: 'false',
    });
    expect(service('grafana').volumes).toEqual(
      expect.arrayContaining([
        './infra/grafana/provisioning:/etc/grafana/provisioning:ro',
        './infra/grafana/dashboards:/var/lib/grafana/dashboards:ro',
      ]),
    );
    // Jaeger's receivers listen on localhost by default: the services send from other containers.
    expect(environmentOf(service('jaeger')).JAEGER_LISTEN_HOST).toBe('0.0.0.0');
  });

  it("keeps tracing off by default and points it at the profile's Jaeger over OTLP/HTTP", () => {
    for (const name of SERVICES) {
      expect(environmentOf(service(name)), name).toMatchObject({
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      });
      // The sender and the receiver share a network.
      expect(service(name).networks, name).toContain('internal');
    }
    const on = loadCompose({ ...VARS, OTEL_TRACES_EXPORTER: 'otlp' });
    for (const name of SERVICES) expect(environmentOf(service(name, on)).OTEL_TRACES_EXPORTER).toBe('otlp');
  });

  it('keeps memory and PostgreSQL on an internal network that the gateway and cognition share', () => {
    expect(compose.networks?.internal?.internal).toBe(true);
    for (const name of ['postgres', 'memory', 'cognition', 'gateway']) {
      expect(service(name).networks, name).toContain('internal');
    }
    expect(service('memory').networks).toEqual(['internal']);
    expect(service('postgres').networks).toEqual(['internal']);
    // The gateway's published port needs a network that is not internal.
    expect(service('gateway').networks?.some((n) => compose.networks?.[n]?.internal !== true)).toBe(true);
  });

  it("runs without demo users: AUTH_USERS is the operator's, and production mode creates none", () => {
    const gateway = loadGatewayEnv({ NODE_ENV: 'production', ...environmentOf(service('gateway')) });
    expect(environmentOf(service('gateway')).AUTH_USERS).toBe('');
    expect(JSON.stringify(gateway)).not.toMatch(/demo/);
    for (const s of Object.values(raw.services)) expect(s.environment?.NODE_ENV).toBeUndefined();
  });

  it('fails its safety check on each unsafe change (the check can fail)', () => {
    const mutate = (edit: (f: ComposeFile) => void) => {
      const f = structuredClone(raw);
      edit(f);
      return composeSafetyProblems(f);
    };
    const env = (f: ComposeFile, name: string) => {
      const e = f.services[name]?.environment;
      if (!e) throw new Error(`no environment for ${name}`);
      return e;
    };
    expect(mutate((f) => Object.assign(service('memory', f), { ports: ['9000:9000'] }))).toEqual([
      expect.stringMatching(/memory publishes ports/),
    ]);
    expect(mutate((f) => Object.assign(service('grafana', f), { ports: ['3000:3000'] }))).toEqual([
      expect.stringMatching(/grafana publishes 3000:3000 beyond 127\.0\.0\.1/),
    ]);
    expect(mutate((f) => Object.assign(service('jaeger', f), { profiles: undefined }))).toEqual([
      expect.stringMatching(/jaeger publishes ports outside the monitoring profile/),
    ]);
    expect(
      mutate((f) => Object.assign(service('postgres', f), { networks: ['internal', 'egress'] })),
    ).toEqual([expect.stringMatching(/postgres joins network egress/)]);
    expect(
      mutate((f) => Object.assign(env(f, 'gateway'), { JWT_SECRET: '%{JWT_SECRET:-dev}'.replace('%', '$') })),
    ).toEqual([expect.stringMatching(/JWT_SECRET.*must be required/)]);
    expect(mutate((f) => Object.assign(env(f, 'gateway'), { JWT_SECRET: 'literal-secret-value' }))).toEqual([
      expect.stringMatching(/JWT_SECRET must be exactly one required variable/),
    ]);
    expect(mutate((f) => Object.assign(env(f, 'gateway'), { AUTH_USERS: 'demo:demo:demo-user' }))).toEqual(
      expect.arrayContaining([expect.stringMatching(/demo user/)]),
    );
    expect(mutate((f) => Object.assign(env(f, 'gateway'), { NODE_ENV: 'development' }))).toEqual([
      expect.stringMatching(/NODE_ENV=development/),
    ]);
    expect(
      mutate((f) =>
        Object.assign(env(f, 'memory'), { DATABASE_URL: 'postgres://cortex:cortex@postgres:5432/cortex' }),
      ),
    ).toEqual([expect.stringMatching(/literal password/)]);
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
    expect(pg.POSTGRES_PASSWORD).toBe(VARS.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
  });

  it('points cognition and the gateway at the other services by compose name and port', () => {
    expect(environmentOf(service('cognition')).MEMORY_SERVICE_URL).toBe('http://memory:9000');
    expect(environmentOf(service('gateway'))).toMatchObject({
      MEMORY_SERVICE_URL: 'http://memory:9000',
      COGNITION_SERVICE_URL: 'http://cognition:9100',
    });
  });

  it('gives each service the service secrets the contract says it signs or verifies with', () => {
    const names = (n: string) =>
      Object.keys(environmentOf(service(n))).filter((k) => SERVICE_SECRETS.includes(k));
    expect(names('gateway')).toEqual(['GATEWAY_SERVICE_SECRET']);
    expect(names('memory').sort()).toEqual(['COGNITION_SERVICE_SECRET', 'GATEWAY_SERVICE_SECRET']);
    expect(names('cognition').sort()).toEqual(['COGNITION_SERVICE_SECRET', 'GATEWAY_SERVICE_SECRET']);
    expect(environmentOf(service('gateway')).GATEWAY_SERVICE_SECRET).toBe(VARS.GATEWAY_SERVICE_SECRET);
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
    expect(gateway.JWT_SECRET).toBe(VARS.JWT_SECRET);
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
        keys.every((k) => known[name].includes(k) || SERVICE_SECRETS.includes(k) || OTEL_VARS.includes(k)),
      );
    }
  });
});

describe('docker-compose.debug.yml', () => {
  const merged = (() => {
    const base = loadCompose(VARS);
    const debug = loadCompose(VARS, debugPath);
    for (const [name, s] of Object.entries(debug.services)) Object.assign(service(name, base), s);
    base.networks = { ...base.networks, ...debug.networks };
    return base;
  })();

  it('publishes memory, cognition, PostgreSQL and Prometheus on loopback only, for debugging', () => {
    const ports = Object.fromEntries(
      Object.entries(merged.services).map(([name, s]) => [name, publishedPorts(s)]),
    );
    expect(ports).toMatchObject({
      postgres: [{ address: '127.0.0.1', host: 5432, container: 5432 }],
      memory: [{ address: '127.0.0.1', host: 9000, container: 9000 }],
      cognition: [{ address: '127.0.0.1', host: 9100, container: 9100 }],
      prometheus: [{ address: '127.0.0.1', host: 9090, container: 9090 }],
    });
    expect(Object.keys(readComposeYaml(debugPath).services)).not.toContain('gateway');
  });

  it('attaches each published service to a non-internal network too (Docker publishes nothing otherwise)', () => {
    for (const name of ['postgres', 'memory', 'cognition', 'prometheus']) {
      const nets = service(name, merged).networks ?? [];
      expect(nets, name).toContain('internal');
      expect(
        nets.some((n) => merged.networks?.[n]?.internal !== true),
        name,
      ).toBe(true);
    }
  });

  it('adds no secret and no default (it only publishes)', () => {
    expect(variableRefs(readFileSync(debugPath, 'utf8'))).toEqual([]);
    for (const s of Object.values(readComposeYaml(debugPath).services)) expect(s.environment).toBeUndefined();
  });
});

describe('.env.example', () => {
  const vars = parseEnvFile(envExample);

  it('lists every variable compose requires, with an empty placeholder, and how to make a secret', () => {
    expect(Object.keys(vars).sort()).toEqual(Object.keys(VARS).sort());
    for (const [name, value] of Object.entries(vars)) expect(value, name).toBe('');
    expect(envExample).toContain('openssl rand -hex 32');
  });

  it('does not start as it is: compose still asks for each secret', () => {
    expect(() => loadCompose(vars)).toThrow(/is required/);
  });
});

describe('Dockerfile', () => {
  const stages = readDockerfile(`${REPO_ROOT}Dockerfile`);
  const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args));

  it('is the only one: the per-service Dockerfiles are gone', () => {
    for (const name of SERVICES)
      expect(existsSync(`${REPO_ROOT}services/${name}/Dockerfile`), name).toBe(false);
  });

  it('builds with pnpm from the lockfile, compiles, and deploys production dependencies only', () => {
    expect(runs.join('\n')).toContain('corepack enable');
    expect(runs.join('\n')).toMatch(
      /pnpm install --offline --frozen-lockfile --filter "@cortex\/\$\{SERVICE\}\.\.\."/,
    );
    expect(runs.join('\n')).toContain('pnpm build:js');
    expect(runs.join('\n')).toMatch(/pnpm --filter "@cortex\/\$\{SERVICE\}" .*deploy --prod --offline \/out/);
  });

  it('uses only files the build context keeps', () => {
    const ignore = readFileSync(`${REPO_ROOT}.dockerignore`, 'utf8').split('\n');
    expect(ignore).toContain('**/node_modules');
    expect(ignore).toContain('**/dist');
    expect(ignore.indexOf('!scripts/build.ts')).toBeGreaterThan(ignore.indexOf('scripts'));
    expect(existsSync(`${REPO_ROOT}scripts/build.ts`)).toBe(true);
  });

  describe.each(SERVICES)('built with SERVICE=%s', (name) => {
    const resolved = resolveLastStage(dockerfileText, { SERVICE: name });
    const runtime = resolved.chain.at(-1);
    if (!runtime) throw new Error('no stages');

    it('runs on a current Node LTS slim image, with tini as PID 1', () => {
      expect(resolved.image).toMatch(/^node:(24|26)-bookworm-slim$/);
      const all = resolved.chain.flatMap((s) => s.instructions);
      expect(
        all
          .filter((i) => i.keyword === 'RUN')
          .map((i) => i.args)
          .join('\n'),
      ).toMatch(/apt-get install .*\btini\b/);
      expect(execForm(last(runtime, 'ENTRYPOINT') ?? '')).toEqual(['/usr/bin/tini', '--']);
    });

    it('runs the built JavaScript unprivileged, in production mode, on the contract port', () => {
      expect(execForm(last(runtime, 'CMD') ?? '')).toEqual(['node', 'dist/server.js']);
      expect(last(runtime, 'USER')).toMatch(/^(node|1000)$/);
      expect(last(runtime, 'WORKDIR')).toBe('/app');
      expect(resolved.env).toMatchObject({
        NODE_ENV: 'production',
        HOST: '0.0.0.0',
        PORT: String(PORTS[name]),
      });
      expect(expand(last(runtime, 'EXPOSE') ?? '', resolved.env)).toBe(String(PORTS[name]));
    });

    it('copies in only the deployed output of the build stage (no sources, no dev install)', () => {
      const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      expect(copies).toEqual(['--from=build /out ./']);
    });

    it('has a health check', () => {
      expect(last(runtime, 'HEALTHCHECK')).toMatch(/\bCMD \[/);
    });
  });
});

describe('health-check commands', () => {
  const run = promisify(execFile);
  const imageChecks = SERVICES.map((name) => {
    const runtime = resolveLastStage(dockerfileText, { SERVICE: name }).chain.at(-1);
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
