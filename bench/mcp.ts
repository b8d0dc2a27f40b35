/**
 * What MCP costs against the REST wire: the same tool, defined once, called as `POST /tool/echo`
 * and as an MCP `tools/call` on `POST /mcp` (the official SDK's stateless Streamable HTTP
 * transport, a new server and transport per request), on one service app with service
 * authentication on, as memory and cognition run. Interleaved rounds, medians, one run.
 *
 *   pnpm bench:mcp [--rounds 3] [--seconds 3]
 *
 * The tool does almost nothing, so the figures are the protocol's own cost per call: a real
 * tool's work is added to both sides alike. The last line is the result as JSON.
 */
import { loadavg } from 'node:os';
import { z } from 'zod';
import { ServiceTokenSigner } from '../packages/network-client/src/index';
import { createServiceApp } from '../packages/service-kit/src/create-app';
import { mcpTools, registerMcp } from '../packages/service-kit/src/mcp';
import { registerTools, type Tool } from '../packages/service-kit/src/tools';
import { closedLoop } from './lib/closed-loop';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i] as string, process.argv[i + 1] ?? '');
const ROUNDS = Number(args.get('--rounds') ?? 3);
const SECONDS = Number(args.get('--seconds') ?? 3);
const CONCURRENCY = 32;
const SECRET = 'bench-gateway-service-secret-0123456789abcdef';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const round2 = (x: number) => Math.round(x * 100) / 100;

const echo: Tool<null, z.ZodType> = {
  name: 'echo',
  description: 'Echo a text.',
  args: z.object({ text: z.string().max(1000) }),
  result: z.object({ text: z.string() }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  run: async (a) => ({ text: (a as { text: string }).text }),
};

function serve(withMcp: boolean) {
  const app = createServiceApp({
    service: 'memory',
    logLevel: 'silent',
    auth: { service: 'memory', secrets: { gateway: [SECRET] }, permissions: { gateway: 'all' } },
  });
  registerTools(app, [echo], null);
  if (withMcp) registerMcp(app, { name: 'bench', version: '1.0.0', tools: mcpTools([echo], null) });
  return app;
}
// The REST face is measured on an app without /mcp too: adding MCP must not slow REST.
const app = serve(true);
const bare = serve(false);
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
const token = await new ServiceTokenSigner({ issuer: 'gateway', secret: SECRET }).token('memory');

type Face = 'REST POST /tool/echo' | 'REST, app without /mcp' | 'MCP tools/call echo';
const rest = {
  path: '/tool/echo',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ arguments: { text: 'hello' } }),
};
const requests: Record<Face, { path: string; headers: Record<string, string>; body: string; base?: string }> =
  {
    'REST POST /tool/echo': rest,
    'REST, app without /mcp': { ...rest, base: bareUrl },
    'MCP tools/call echo': {
      path: '/mcp',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hello' } },
      }),
    },
  };

function drive(face: Face, seconds: number) {
  const { path, headers, body, base } = requests[face];
  return closedLoop(base ?? url, { connections: CONCURRENCY, seconds }, async (pool) => {
    const res = await pool.request({ method: 'POST', path, headers, body });
    const text = await res.body.text();
    // A JSON-RPC error would also be 200: the answer must carry the tool's result.
    if (res.statusCode !== 200 || !text.includes('hello'))
      throw new Error(`${face}: ${res.statusCode} ${text}`);
  });
}

const load = round2(loadavg()[0] as number);
const faces = Object.keys(requests) as Face[];
for (const face of faces) await drive(face, 1); // warm-up: JIT, connections
const rows = Object.fromEntries(
  faces.map((f) => [f, { perSecond: [] as number[], p50: [] as number[], p99: [] as number[] }]),
);
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < faces.length; i++) {
    const face = faces[(i + r) % faces.length] as Face;
    const got = await drive(face, SECONDS);
    rows[face]?.perSecond.push(got.perSecond);
    rows[face]?.p50.push(got.p50);
    rows[face]?.p99.push(got.p99);
  }
}
await app.close();
await bare.close();
const restRate = median(rows['REST POST /tool/echo']?.perSecond ?? []);
const result = Object.fromEntries(
  faces.map((f) => {
    const row = rows[f] as { perSecond: number[]; p50: number[]; p99: number[] };
    return [
      f,
      {
        per_second: Math.round(median(row.perSecond)),
        vs_rest: round2(median(row.perSecond) / restRate),
        p50_ms: round2(median(row.p50)),
        p99_ms: round2(median(row.p99)),
      },
    ];
  }),
);
console.log(
  `\n${CONCURRENCY} concurrent, authenticated, median over ${ROUNDS} interleaved rounds of ${SECONDS} s`,
);
console.table(result);
console.log(JSON.stringify({ bench: 'mcp', load_avg_1m: load, results: result }));
