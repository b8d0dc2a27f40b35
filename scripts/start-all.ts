/**
 * `pnpm start`: memory, cognition and the gateway as three processes, for local use. With no
 * DATABASE_URL memory uses the embedded PGlite under .data/. Ctrl-C stops all three.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = process.env;
const ports = {
  memory: Number(env.MEMORY_PORT ?? 9000),
  cognition: Number(env.COGNITION_PORT ?? 9100),
  gateway: Number(env.GATEWAY_PORT ?? env.PORT ?? 8000),
};
const host = env.HOST ?? '127.0.0.1';
const shared = {
  ...env,
  HOST: host,
  MEMORY_SERVICE_URL: env.MEMORY_SERVICE_URL ?? `http://127.0.0.1:${ports.memory}`,
  COGNITION_SERVICE_URL: env.COGNITION_SERVICE_URL ?? `http://127.0.0.1:${ports.cognition}`,
};
const children: ChildProcess[] = [];
let stopping = false;

function start(name: keyof typeof ports) {
  const child = spawn(process.execPath, ['--conditions=@cortex/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: `${root}/services/${name}`,
    env: { ...shared, PORT: String(ports[name]) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[start] ${name} exited (${signal ?? code}); stopping the others`);
    stop(1);
  });
  children.push(child);
}

async function waitHealthy(name: keyof typeof ports) {
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${ports[name]}/health`;
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not become healthy at ${url}`);
}

function stop(code: number) {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  let left = children.length;
  for (const c of children) {
    c.once('exit', () => {
      if (--left === 0) process.exit(code);
    });
  }
  setTimeout(() => process.exit(code), 15_000).unref();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

start('memory');
await waitHealthy('memory');
start('cognition');
start('gateway');
await Promise.all([waitHealthy('cognition'), waitHealthy('gateway')]);
console.log(`
Cortex Core is running (${env.DATABASE_URL ? 'PostgreSQL from DATABASE_URL' : 'embedded PostgreSQL in .data/'}):
  gateway    http://${host}:${ports.gateway}   (console: http://${host}:${ports.gateway}/)
  memory     http://${host}:${ports.memory}
  cognition  http://${host}:${ports.cognition}
Ctrl-C stops all three.
`);
