/**
 * How the system holds up as memory grows: at each size (default 0, 1M and 5M inputs) it prints
 * the ingest rate (`POST /input` → `received`), `GET /history` p99, the feed read time, and bytes
 * on disk per input, and memory's search statement p99 (a word in every input among its queries).
 *
 *   npx tsx bench/scale.ts
 *
 * Growing is by bulk SQL, not through the product: synthetic rows in one INSERT … SELECT per
 * chunk, into memory's own `inputs` table (seqs from its sequence, ids ordered, spread over the
 * bench's users so their histories grow too). The gateway is stopped while rows are added, so its
 * feed subscription does not replay millions of rows when it comes back (a restarted gateway
 * follows from the head), and a CHECKPOINT follows each growth. Nothing is ever ANALYZEd: the plans
 * must hold without statistics.
 *
 * Env: BENCH_SCALE_SIZES (comma-separated row counts, default 0,1000000,5000000), BENCH_SECONDS
 * (per measurement, 10: with 5 s the ingest ratio between sizes swung from 0.73 to 0.98 between runs), BENCH_CONNECTIONS (ingest, 64), BENCH_HISTORY_CONNECTIONS (1: the read's own
 * latency, not a queue's),
 * BENCH_CHUNK (rows per bulk INSERT, 500000), DATABASE_URL. Last line of stdout: JSON.
 */

import { performance } from 'node:perf_hooks';
import { usersWithTokens } from '@cortex/testing';
import pg from 'pg';
import {
  byWordsParams,
  DEFAULT_SEARCH_BOUNDS,
  SEARCH_SETTINGS_SQL,
  SEARCH_SQL,
  searchTerms,
} from '../services/memory/src/store/search-store';
import { envNumber, machineNote } from './lib/env';
import { countOf, runLoad } from './lib/load';
import { printJson, printTable, progress } from './lib/report';
import { Stack } from './lib/stack';
import { round, summarise } from './lib/stats';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '0,1000000,5000000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isFinite(n) && n >= 0)
  .sort((a, b) => a - b);
const SECONDS = envNumber('BENCH_SECONDS', 10);
const CONNECTIONS = Math.max(1, Math.round(envNumber('BENCH_CONNECTIONS', 64)));
const HISTORY_CONNECTIONS = Math.max(1, Math.round(envNumber('BENCH_HISTORY_CONNECTIONS', 1)));
const CHUNK = Math.max(1000, Math.round(envNumber('BENCH_CHUNK', 500_000)));
const FEED_READS = 200;

const users = await usersWithTokens(64);
const BODY = JSON.stringify({ content: 'bench input', metadata: {} });

/**
 * Memory's search statement as memory runs it (its transaction, settings, statement), straight on
 * PostgreSQL, for one bench user: a mix of a word in every input ("weather"), common words, a
 * rare one (each input's own number), a prefix ("synth"), and no match. p99 over SEARCHES rounds.
 * The former statement is measured beside it in bench:search.
 */
const SEARCH_USER = 'bench-user-7';
const SEARCH_QUERIES = ['weather', 'meeting plans', 'number 777777', 'weather 123457', 'synth', 'nowhere'];
const SEARCHES = 20;
async function searchP99(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const samples: number[] = [];
    for (let i = 0; i < SEARCHES; i++) {
      for (const q of SEARCH_QUERIES) {
        const t0 = performance.now();
        await client.query('BEGIN');
        await client.query(SEARCH_SETTINGS_SQL, [String(DEFAULT_SEARCH_BOUNDS.timeoutMs)]);
        const params = byWordsParams(
          SEARCH_USER,
          searchTerms(q),
          { limit: 10, maxChars: 1000 },
          DEFAULT_SEARCH_BOUNDS,
        );
        await client.query(SEARCH_SQL.byWords, params);
        await client.query('COMMIT');
        if (i > 0) samples.push(performance.now() - t0); // the first round warms the plans
      }
    }
    return summarise(samples).p99;
  } finally {
    await client.end();
  }
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function rowCount(url: string) {
  const [r] = await sql<{ n: string }>(url, 'SELECT count(*)::text AS n FROM inputs');
  return Number(r?.n ?? 0);
}

/** Adds `n` synthetic inputs by bulk SQL, in chunks (each its own statement and commit). */
async function grow(url: string, n: number, tag: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let done = 0; done < n; done += CHUNK) {
      const size = Math.min(CHUNK, n - done);
      const t0 = performance.now();
      await client.query(
        `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp")
         SELECT $1 || '-' || lpad(g::text, 9, '0'), 'bench-user-' || (g % 64), 'conv-' || (g % 5000),
                'synthetic input number ' || g || ' about the weather, a meeting and some plans',
                '{"source": "bulk"}'::jsonb, now() - interval '30 days' + g * interval '1 ms'
           FROM generate_series($2::int, $3::int) g`,
        [tag, done + 1, done + size],
      );
      progress(`  +${size} rows in ${round((performance.now() - t0) / 1000, 1)} s`);
    }
    // The bulk rows' WAL and dirty pages are written out now, not by checkpoints spread over the
    // measurements that follow (a million rows is about 500 MB of WAL here): the figures are then
    // about the table's size, not about a burst the product never sends.
    const t0 = performance.now();
    await client.query('CHECKPOINT');
    progress(`  checkpoint in ${round((performance.now() - t0) / 1000, 1)} s`);
  } finally {
    await client.end();
  }
}

/** Ingest and history for a few seconds, unmeasured: a (re)started gateway is JIT-cold. */
async function warmUp(stack: Stack) {
  progress('warm-up 3 s');
  await runLoad({
    url: stack.gateway.url,
    method: 'POST',
    path: '/input',
    body: BODY,
    connections: CONNECTIONS,
    durationS: 2,
    headersFor: (n) => ({
      'content-type': 'application/json',
      authorization: users[n % users.length]!.authorization,
    }),
  });
  await runLoad({
    url: stack.gateway.url,
    path: '/history?limit=50',
    connections: HISTORY_CONNECTIONS,
    durationS: 1,
    headersFor: (n) => ({ authorization: users[n % users.length]!.authorization }),
  });
}

async function ingestRate(stack: Stack) {
  const r = await runLoad({
    url: stack.gateway.url,
    method: 'POST',
    path: '/input',
    body: BODY,
    connections: CONNECTIONS,
    durationS: SECONDS,
    headersFor: (n) => ({
      'content-type': 'application/json',
      authorization: users[n % users.length]!.authorization,
    }),
    classify: (status, body) =>
      status === 200 && body.includes('"status":"received"') ? 'received' : String(status),
  });
  return { perS: countOf(r, 'received') / r.durationS, other: r.total - countOf(r, 'received') };
}

async function historyLatency(stack: Stack) {
  const r = await runLoad({
    url: stack.gateway.url,
    path: '/history?limit=50',
    connections: HISTORY_CONNECTIONS,
    durationS: SECONDS,
    headersFor: (n) => ({ authorization: users[n % users.length]!.authorization }),
    classify: (status, body) => (status === 200 && body.startsWith('{"items":[') ? 'ok' : String(status)),
  });
  const ok = summarise(r.latencies.get('ok') ?? []);
  return { p50: ok.p50, p99: ok.p99, perS: ok.count / r.durationS, other: r.total - ok.count };
}

/**
 * The feed's read as the events route runs it (SQL function, one round trip from Node): a
 * follower's read near the head (the last 64 events) and a catch-up read of a 500-event page
 * from 100,000 events back.
 */
async function feedReads(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const [h] = (
      await client.query<{ head: string }>('SELECT coalesce(max(seq), 0)::text AS head FROM inputs')
    ).rows;
    const head = Number(h?.head ?? 0);
    const time = async (after: number) => {
      const samples: number[] = [];
      for (let i = 0; i < FEED_READS; i++) {
        const t0 = performance.now();
        await client.query('SELECT * FROM memory_events_after_v2($1, $2)', [after, 500]);
        samples.push(performance.now() - t0);
      }
      return summarise(samples);
    };
    return { follower: await time(Math.max(0, head - 64)), catchUp: await time(Math.max(0, head - 100_000)) };
  } finally {
    await client.end();
  }
}

async function bytesPerInput(url: string, rows: number) {
  const [r] = await sql<{ bytes: string }>(url, "SELECT pg_total_relation_size('inputs')::text AS bytes");
  const bytes = Number(r?.bytes ?? 0);
  return { bytes, perInput: rows > 0 ? bytes / rows : Number.NaN };
}

progress('starting gateway + memory on a fresh schema');
const stack = await Stack.start();
const results: Record<string, unknown>[] = [];
try {
  const url = stack.databaseUrl!;
  await warmUp(stack);
  let grown = 0;
  for (const size of SIZES) {
    const before = await rowCount(url);
    if (size > before) {
      progress(`growing to ${size.toLocaleString('en')} rows by bulk SQL (gateway stopped)`);
      await stack.gateway.stop();
      await grow(url, size - before, `bulk${grown++}`);
      await stack.gateway.start();
      await warmUp(stack);
    }
    const rows = await rowCount(url);
    progress(`at ${rows.toLocaleString('en')} rows: ingest ${SECONDS}s`);
    const ingest = await ingestRate(stack);
    progress(`at ${rows.toLocaleString('en')} rows: GET /history ${SECONDS}s`);
    const history = await historyLatency(stack);
    progress(`at ${rows.toLocaleString('en')} rows: feed reads`);
    const feed = await feedReads(url);
    progress(`at ${rows.toLocaleString('en')} rows: search`);
    const search = await searchP99(url);
    const after = await rowCount(url);
    const disk = await bytesPerInput(url, after);
    results.push({
      target_rows: size,
      rows,
      ingest_per_s: round(ingest.perS, 0),
      ingest_other_answers: ingest.other,
      history_p50_ms: round(history.p50),
      history_p99_ms: round(history.p99),
      history_per_s: round(history.perS, 0),
      history_other_answers: history.other,
      feed_follower_p50_ms: round(feed.follower.p50, 3),
      feed_follower_p99_ms: round(feed.follower.p99, 3),
      feed_catch_up_p50_ms: round(feed.catchUp.p50, 3),
      feed_catch_up_p99_ms: round(feed.catchUp.p99, 3),
      search_p99_ms: round(search),
      bytes_on_disk: disk.bytes,
      bytes_per_input: round(disk.perInput, 0),
    });
  }
  const first = results[0]?.ingest_per_s as number | undefined;
  printTable(
    `Scale: memory grown by bulk SQL, never analyzed (ingest ${CONNECTIONS} connections, history ${HISTORY_CONNECTIONS}; ${SECONDS}s each)`,
    [
      'rows',
      'ingest per s',
      '÷ at first size',
      'history p50 ms',
      'history p99 ms',
      'feed read p99 ms (follower / catch-up)',
      'search p99 ms',
      'bytes per input',
    ],
    results.map((r) => [
      (r.rows as number).toLocaleString('en'),
      r.ingest_per_s as number,
      first ? round((r.ingest_per_s as number) / first, 3) : '-',
      r.history_p50_ms as number,
      r.history_p99_ms as number,
      `${r.feed_follower_p99_ms} / ${r.feed_catch_up_p99_ms}`,
      r.search_p99_ms as number,
      r.bytes_per_input as number,
    ]),
  );
  for (const r of results)
    if ((r.ingest_other_answers as number) > 0 || (r.history_other_answers as number) > 0)
      console.log(
        `at ${r.rows} rows: ${r.ingest_other_answers} ingest answers and ${r.history_other_answers} history answers were not ok`,
      );
  printJson({ bench: 'scale', sizes: SIZES, seconds: SECONDS, results, machine: await machineNote() });
} finally {
  await stack.stop();
}
