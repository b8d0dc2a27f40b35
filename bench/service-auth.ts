/**
 * What service authentication costs on the hot path: the signer's per-call token (cached vs
 * signing every call), the verifier (cached vs a full HS256 verification every call), and HTTP
 * requests per second through a service app with authentication off, on, and on with the cache
 * defeated, side by side in one run.
 *
 *   npx tsx bench/service-auth.ts [--rounds 7] [--ms 200] [--http-seconds 2]
 *
 * Micro figures are medians over interleaved rounds (µs per call); HTTP figures are medians over
 * interleaved rounds of `--http-seconds` each at 32 concurrent requests. Compare the ratios.
 * The last line is the result as JSON.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { SignJWT } from 'jose';
import { ServiceTokenSigner } from '../packages/network-client/src/index';
import { createServiceApp } from '../packages/service-kit/src/create-app';
import { ServiceTokenVerifier } from '../packages/service-kit/src/service-token-verifier';
import { closedLoop } from './lib/closed-loop';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i] as string, process.argv[i + 1] ?? '');
const ROUNDS = Number(args.get('--rounds') ?? 7);
const TARGET_MS = Number(args.get('--ms') ?? 200);
const HTTP_SECONDS = Number(args.get('--http-seconds') ?? 2);
const CONCURRENCY = 32;

const SECRET = 'bench-gateway-service-secret-0123456789abcdef';
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const round2 = (x: number) => Math.round(x * 100) / 100;

/** µs per call of `fn`, run for about TARGET_MS. */
async function timeCalls(fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < TARGET_MS) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  return ((performance.now() - start) * 1000) / n;
}

async function micro() {
  const signer = new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET });
  const key = new TextEncoder().encode(SECRET);
  const signEveryCall = () =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('gateway')
      .setAudience('memory')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
  const tokens = [await signEveryCall(), await signer.token('memory')];
  const cached = new ServiceTokenVerifier({ audience: 'memory', callers: { gateway: [SECRET] } });
  // A one-entry cache fed two tokens in turn: every call is a full verification.
  const uncached = new ServiceTokenVerifier({
    audience: 'memory',
    callers: { gateway: [SECRET] },
    cacheSize: 1,
  });
  let flip = 0;
  const subjects: Record<string, () => Promise<unknown>> = {
    'sign: cached token (ours)': () => signer.token('memory'),
    'sign: a new token every call': signEveryCall,
    'verify: cached (ours)': () => cached.verify(tokens[0] as string),
    'verify: full HS256 every call': () => uncached.verify(tokens[flip++ % 2] as string),
  };
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const names = Object.keys(subjects);
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length] as string;
      results[name]?.push(await timeCalls(subjects[name] as () => Promise<unknown>));
    }
  }
  return {
    figures: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round2(median(v))])),
    uncachedVerifications: { cached: cached.uncached, full: uncached.uncached },
  };
}

type Variant = 'no auth' | 'auth, cached (ours)' | 'auth, cache defeated';

async function serve(variant: Variant) {
  const app = createServiceApp({
    service: 'memory',
    logLevel: 'silent',
    ...(variant === 'no auth'
      ? {}
      : {
          auth: {
            service: 'memory',
            secrets: { gateway: [SECRET] },
            permissions: { gateway: 'all' as const },
            ...(variant === 'auth, cache defeated' ? { cacheSize: 1 } : {}),
          },
        }),
  });
  app.post('/tool/:name', async () => ({ result: { ok: true } }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}

function drive(url: string, tokens: string[], seconds = HTTP_SECONDS) {
  let i = 0;
  return closedLoop(url, { connections: CONCURRENCY, seconds }, async (pool) => {
    const res = await pool.request({
      method: 'POST',
      path: '/tool/echo',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i++ % tokens.length]}` },
      body: '{"arguments":{}}',
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`answered ${res.statusCode}`);
  });
}

async function http() {
  const signer = new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET });
  const other = new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET, lifetimeS: 299 });
  const tokens = [await signer.token('memory'), await other.token('memory')];
  const variants: Variant[] = ['no auth', 'auth, cached (ours)', 'auth, cache defeated'];
  const servers = await Promise.all(variants.map(serve));
  const rows: Record<Variant, { perSecond: number[]; p50: number[]; p99: number[] }> = Object.fromEntries(
    variants.map((v) => [v, { perSecond: [], p50: [], p99: [] }]),
  ) as never;
  // Warm every variant up (JIT, connections) before anything is measured.
  for (let k = 0; k < variants.length; k++) {
    await drive(
      servers[k]?.url as string,
      variants[k] === 'auth, cache defeated' ? tokens : [tokens[0] as string],
      1,
    );
  }
  for (let r = 0; r < Math.max(3, Math.ceil(ROUNDS / 2)); r++) {
    for (let i = 0; i < variants.length; i++) {
      const k = (i + r) % variants.length;
      const variant = variants[k] as Variant;
      // The cached variant sends one token, as a caller does; the defeated one alternates two.
      const got = await drive(
        servers[k]?.url as string,
        variant === 'auth, cache defeated' ? tokens : [tokens[0] as string],
      );
      rows[variant].perSecond.push(got.perSecond);
      rows[variant].p50.push(got.p50);
      rows[variant].p99.push(got.p99);
    }
  }
  for (const s of servers) await s.app.close();
  const base = median(rows['no auth'].perSecond);
  return Object.fromEntries(
    variants.map((v) => [
      v,
      {
        per_second: Math.round(median(rows[v].perSecond)),
        vs_no_auth: round2(median(rows[v].perSecond) / base),
        p50_ms: round2(median(rows[v].p50)),
        p99_ms: round2(median(rows[v].p99)),
      },
    ]),
  );
}

const load = round2(loadavg()[0] as number);
console.error('micro benchmarks…');
const m = await micro();
console.error('HTTP…');
const h = await http();
console.log('\nper call (median µs over rounds)');
console.table(m.figures);
console.log(
  `full verifications performed: cached verifier ${m.uncachedVerifications.cached}, defeated ${m.uncachedVerifications.full}`,
);
console.log(`\nHTTP, ${CONCURRENCY} concurrent, POST /tool/echo (median over rounds)`);
console.table(h);
console.log(JSON.stringify({ bench: 'service-auth', load_avg_1m: load, micro_us: m.figures, http: h }));
