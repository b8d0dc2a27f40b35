/**
 * Stored inputs per second through memory's `store_input`, with group commit on and off, beside a
 * plain one-row-per-transaction `pg` loop, at 1, 8 and 64 concurrent callers, all in one run
 * against the same PostgreSQL (an isolated schema, dropped afterwards).
 *
 *   npx tsx --conditions=@cortex/source bench/store.ts            (DATABASE_URL, BENCH_SECONDS=4 per cell)
 *
 * Prints a table, then one line of JSON.
 */

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { isolatedSchemaUrl, SERVICE_SECRETS, serviceAuth } from '@cortex/testing';
import pg from 'pg';
import { Pool } from 'undici';
import { buildMemoryApp } from '../services/memory/src/app';
import { loadMemoryEnv } from '../services/memory/src/env';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = [1, 8, 64];
const WARM_UP_MS = 2000;

interface Cell {
  mode: 'group_commit_on' | 'group_commit_off' | 'plain_pg';
  concurrency: number;
  stored: number;
  errors: number;
  per_second: number;
  p50_ms: number;
  p99_ms: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number);

/** Runs `concurrency` callers of `once` for SECONDS and counts what succeeded. */
async function drive(mode: Cell['mode'], concurrency: number, once: () => Promise<boolean>): Promise<Cell> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const ok = await once().catch(() => false);
        if (ok) latencies.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    mode,
    concurrency,
    stored: latencies.length,
    errors,
    per_second: Math.round(latencies.length / elapsed),
    p50_ms: Math.round(percentile(latencies, 0.5) * 100) / 100,
    p99_ms: Math.round(percentile(latencies, 0.99) * 100) / 100,
  };
}

const input = () => ({
  id: randomUUID(),
  content: 'a benchmark input of ordinary length',
  metadata: { b: 1 },
});

/** JIT, connection pools and caches warm before anything is measured. */
async function warmUp(port: number) {
  const auth = await serviceAuth();
  const http = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
  const end = performance.now() + WARM_UP_MS;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < end) {
        const res = await http.request({
          method: 'POST',
          path: '/tool/store_input',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify({ arguments: { user_id: 'warm-up', input_data: input() } }),
        });
        await res.body.dump();
      }
    }),
  );
  await http.close();
}

async function benchMemory(url: string, groupCommit: 'on' | 'off'): Promise<Cell[]> {
  const env = loadMemoryEnv({
    DATABASE_URL: url,
    GROUP_COMMIT: groupCommit,
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    GATEWAY_SERVICE_SECRET: SERVICE_SECRETS.gateway,
  });
  const app = await buildMemoryApp({ env });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const cells: Cell[] = [];
  try {
    await warmUp(port);
    for (const concurrency of CONCURRENCY) {
      const http = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1 });
      const once = async () => {
        const res = await http.request({
          method: 'POST',
          path: '/tool/store_input',
          headers: { 'content-type': 'application/json', ...(await serviceAuth()) },
          body: JSON.stringify({ arguments: { user_id: `bench-${concurrency}`, input_data: input() } }),
        });
        await res.body.dump();
        return res.statusCode === 200;
      };
      cells.push(
        await drive(groupCommit === 'on' ? 'group_commit_on' : 'group_commit_off', concurrency, once),
      );
      await http.close();
    }
  } finally {
    await app.close();
  }
  return cells;
}

/** The baseline: each input its own autocommit INSERT on a pool of `concurrency` connections. */
async function benchPlain(url: string): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const concurrency of CONCURRENCY) {
    const pool = new pg.Pool({ connectionString: url, max: concurrency });
    const once = async () => {
      const i = input();
      await pool.query(
        `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp") VALUES ($1, $2, $3, $4, $5, $6)`,
        [i.id, `plain-${concurrency}`, null, i.content, JSON.stringify(i.metadata), new Date().toISOString()],
      );
      return true;
    };
    cells.push(await drive('plain_pg', concurrency, once));
    await pool.end();
  }
  return cells;
}

function table(cells: Cell[]) {
  const header = ['mode', 'callers', 'inputs/s', 'p50 ms', 'p99 ms', 'stored', 'errors'];
  const rows = cells.map((c) => [
    c.mode,
    String(c.concurrency),
    String(c.per_second),
    c.p50_ms.toFixed(2),
    c.p99_ms.toFixed(2),
    String(c.stored),
    String(c.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main() {
  let iso: Awaited<ReturnType<typeof isolatedSchemaUrl>>;
  try {
    iso = await isolatedSchemaUrl(DATABASE_URL);
  } catch (err) {
    console.error(`bench:store needs PostgreSQL at DATABASE_URL (${(err as Error).message})`);
    process.exit(1);
  }
  try {
    const cells = [
      ...(await benchMemory(iso.url, 'on')),
      ...(await benchMemory(iso.url, 'off')),
      // After memory's runs, so that its migrations have created the table.
      ...(await benchPlain(iso.url)),
    ];
    console.log(
      `store_input throughput, ${SECONDS} s per cell, PostgreSQL at ${new URL(DATABASE_URL).host}\n`,
    );
    console.log(table(cells));
    console.log(JSON.stringify({ bench: 'store', seconds_per_cell: SECONDS, cells }));
  } finally {
    await iso.drop();
  }
}

await main();
