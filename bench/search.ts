/**
 * Search over one user's whole history, and what the worst search does to cognition's event loop.
 *
 *   npx tsx bench/search.ts      (DATABASE_URL; BENCH_SEARCH_ROWS=1000000 inputs of one user)
 *
 * 1. Event loop: memory, cognition and a gateway as processes; one user holds 60 inputs of 99 KB
 *    and sends the issue's attack, `GET /search` with 240 distinct words, BENCH_ATTACKS times
 *    (4 at once). Cognition's event-loop delay is read from its /metrics (prom-client's
 *    monitorEventLoopDelay histogram, reset at every scrape): idle first, then under the attack.
 *    For comparison the former ranking (every word of every item, in JavaScript) is timed on the
 *    same 60 inputs in this process.
 * 2. Search p99: one user's history grown to BENCH_SEARCH_ROWS inputs by a bulk INSERT … SELECT
 *    in SQL (generate_series; the word "entry", then 10-16 words from a 20,000-word vocabulary with
 *    a skewed, Zipf-like frequency, so the commonest of those is in about 40% of the inputs),
 *    through memory's own table and GIN index. Then a mix of queries (1-3 words of common,
 *    middling and rare frequency) end to end through `GET /search`, and memory's own statement
 *    straight on PostgreSQL, p50/p99 of each, with the former statement (migration 005's, before
 *    007) run back to back on the same query; then the hard cases apart (a word in every input, the
 *    commonest word, each with a rare one, a prefix, no match, 32 words, a word in a third of the
 *    inputs but none of the newest 30%), 30 times each.
 *
 * Prints tables, then one line of JSON.
 */

import { performance } from 'node:perf_hooks';
import { isolatedSchemaUrl, Metrics, type ServiceProcess, tokenFor } from '@cortex/testing';
import pg from 'pg';
import { request } from 'undici';
import { rankMatches, scoreItems } from '../services/cognition/src/context/rank';
import {
  byWordsParams,
  DEFAULT_SEARCH_BOUNDS,
  SEARCH_SETTINGS_SQL,
  SEARCH_SQL,
  searchTerms,
  toTsquery,
} from '../services/memory/src/store/search-store';
import { processCpuSeconds } from './lib/cpu-usage';
import { DATABASE_URL, envNumber, machineNote } from './lib/env';
import { printJson, printTable, progress } from './lib/report';
import { BENCH_GATEWAY_ENV, benchService } from './lib/stack';
import { round, summarise } from './lib/stats';

const ROWS = envNumber('BENCH_SEARCH_ROWS', 1_000_000);
const QUERIES = envNumber('BENCH_SEARCH_QUERIES', 300);
const ATTACKS = envNumber('BENCH_ATTACKS', 100);
const VOCABULARY = 20_000;
const CHUNK = 100_000;
const TARGET_P99_MS = 50;
const TARGET_LOOP_MS = 50;

const word = (n: number) => `t${n}q`;
/** A word the fill puts in every input: the worst case for a search that collects all matches. */
const EVERYWHERE = 'entry';

/**
 * Memory's search function before migration 007 (migration 005's, kept by 007 for instances of the
 * previous release), measured beside the current one query by query in the same run. Parameters:
 * user, one tsquery per word, candidates, sample rows, sample bytes, row cost, window rows, window
 * bytes, max_chars, limit.
 */
const FORMER_BY_WORDS = 'SELECT * FROM memory_search_inputs($1, $2::text[], $3, $4, $5, 125, $6, $7, $8, $9)';
/** A word in a third of the user's oldest 70% of inputs and in none of the newest 30%. */
const PAST = 'legacy';

/** Deterministic pseudo-random numbers, so every run asks the same queries. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function getJson(url: string, authorization: string) {
  const t = performance.now();
  const res = await request(url, { headers: { authorization }, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const body = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, body, ms: performance.now() - t };
}

/** Cognition's event-loop delay since the last call: one scrape, since each one resets the histogram. */
async function loopDelay(cognitionUrl: string) {
  const metrics = await Metrics.scrape(cognitionUrl);
  return {
    max_ms: round(metrics.first('nodejs_eventloop_lag_max_seconds') * 1000, 1),
    p99_ms: round(metrics.first('nodejs_eventloop_lag_p99_seconds') * 1000, 1),
  };
}

/** `count` searches of `query`, 4 at once, with cognition's event-loop delay over them. */
async function searchLoad(
  gatewayUrl: string,
  cognition: ServiceProcess,
  authorization: string,
  query: string,
  count: number,
) {
  const cognitionUrl = cognition.url;
  const ms: number[] = [];
  let errors = 0;
  let next = 0;
  await loopDelay(cognitionUrl);
  const cpu0 = processCpuSeconds(cognition.pid) ?? Number.NaN;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next++ < count) {
        const r = await getJson(
          `${gatewayUrl}/search?${new URLSearchParams({ query, limit: '100' })}`,
          authorization,
        );
        if (r.status === 200 && !r.body.error) ms.push(r.ms);
        else errors++;
      }
    }),
  );
  // CPU is what a request can hold the loop for, whatever the machine's load adds to the wait.
  const cpuMs = ((processCpuSeconds(cognition.pid) ?? Number.NaN) - cpu0) * 1000;
  const loop = await loopDelay(cognitionUrl);
  return { loop, requests: summarise(ms), errors, cpu_ms_per_request: round(cpuMs / count, 2) };
}

const iso = await isolatedSchemaUrl(DATABASE_URL);
const services: ServiceProcess[] = [];
const client = new pg.Client({ connectionString: iso.url });
try {
  const memory = benchService('memory', { env: { DATABASE_URL: iso.url } });
  services.push(memory);
  await memory.start();
  const cognition = benchService('cognition', { env: { MEMORY_SERVICE_URL: memory.url } });
  services.push(cognition);
  await cognition.start();
  const gateway = benchService('gateway', {
    env: { ...BENCH_GATEWAY_ENV, MEMORY_SERVICE_URL: memory.url, COGNITION_SERVICE_URL: cognition.url },
  });
  services.push(gateway);
  await gateway.start();
  await client.connect();

  // --- 1. The worst search a user can send, and cognition's event loop -------------------------
  const attacker = 'bench-attacker';
  const attackWords = Array.from({ length: 240 }, (_, i) => `a${i.toString(36).padStart(2, '0')}`);
  const attackQuery = attackWords.join(' ');
  const random = lcg(7);
  const bigContent = () => {
    const parts: string[] = [];
    let size = 0;
    while (size < 99_000) {
      // Mostly distinct words (the former ranking's prefix loop ran over each item's distinct words),
      // some of them the query's.
      const w =
        random() < 0.05
          ? (attackWords[Math.floor(random() * attackWords.length)] as string)
          : `${attackWords[Math.floor(random() * attackWords.length)]}${Math.floor(random() * 1e6).toString(36)}`;
      parts.push(w);
      size += w.length + 1;
    }
    return parts.join(' ').slice(0, 99_000);
  };
  const bigItems = Array.from({ length: 60 }, (_, i) => ({
    id: `attack-${i}`,
    user_id: attacker,
    conversation_id: null,
    content: bigContent(),
    metadata: {},
    timestamp: new Date(Date.now() - i * 60_000).toISOString(),
  }));
  await client.query(
    `INSERT INTO inputs (id, user_id, content, "timestamp") SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])`,
    [
      bigItems.map((i) => i.id),
      bigItems.map((i) => i.user_id),
      bigItems.map((i) => i.content),
      bigItems.map((i) => i.timestamp),
    ],
  );
  const oldStart = process.cpuUsage();
  scoreItems(bigItems, attackQuery);
  const oldUsed = process.cpuUsage(oldStart);
  const formerRankingMs = (oldUsed.user + oldUsed.system) / 1000;
  progress(`former in-JavaScript ranking of the attack: ${Math.round(formerRankingMs)} ms`);

  const attackAuth = `Bearer ${await tokenFor(attacker)}`;
  const searchUrl = (q: string, limit = 100) =>
    `${gateway.url}/search?${new URLSearchParams({ query: q, limit: String(limit) })}`;
  const first = await getJson(searchUrl(attackQuery), attackAuth);
  if (first.status !== 200 || (first.body.count as number) === 0) {
    throw new Error(`the attack search answered ${first.status} ${JSON.stringify(first.body).slice(0, 300)}`);
  }
  // Cognition's one synchronous step whose cost depends on what the user stored or asked: its
  // ranking of memory's matches, timed here on exactly what it was given (the results carry the
  // content heads memory sent), apart from the machine's load on the service processes.
  const given = first.body.results as Parameters<typeof rankMatches>[0];
  // CPU time, not wall time: on a loaded machine a 5 ms task can take 40 ms of wall time.
  const rankMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = process.cpuUsage();
    rankMatches(given, searchTerms(attackQuery));
    const used = process.cpuUsage(t);
    rankMs.push((used.user + used.system) / 1000);
  }
  const ranking = summarise(rankMs);
  await loopDelay(cognition.url); // resets the histogram
  await new Promise((r) => setTimeout(r, 3000));
  const idle = await loopDelay(cognition.url);
  // The control: as many searches, as many at once, of one word over a few short inputs. On a
  // loaded machine a process waiting for a core shows as event-loop delay too; this is that floor.
  const controlUser = 'bench-control';
  await client.query(
    `INSERT INTO inputs (id, user_id, content, "timestamp")
     SELECT 'control-' || g, $1, 'a short note about a00 number ' || g, now() - g * interval '1 minute' FROM generate_series(1, 60) g`,
    [controlUser],
  );
  const control = await searchLoad(
    gateway.url,
    cognition,
    `Bearer ${await tokenFor(controlUser)}`,
    'a00',
    ATTACKS,
  );
  const attacked = await searchLoad(gateway.url, cognition, attackAuth, attackQuery, ATTACKS);
  const underAttack = attacked.loop;
  const attack = attacked.requests;
  const attackErrors = attacked.errors + control.errors;
  printTable(
    `Cognition's event loop, the worst search (240 distinct words over 60 inputs of 99 KB, ${ATTACKS} requests, 4 at once)`,
    [
      '',
      'loop delay max ms',
      'loop delay p99 ms',
      'cognition CPU ms/request',
      'request p50 ms',
      'request p99 ms',
    ],
    [
      ['idle (3 s)', idle.max_ms, idle.p99_ms, '', '', ''],
      [
        'control: one word, 60 short inputs',
        control.loop.max_ms,
        control.loop.p99_ms,
        control.cpu_ms_per_request,
        round(control.requests.p50, 1),
        round(control.requests.p99, 1),
      ],
      [
        'under the attack',
        underAttack.max_ms,
        underAttack.p99_ms,
        attacked.cpu_ms_per_request,
        round(attack.p50, 1),
        round(attack.p99, 1),
      ],
      [
        `ranking of the ${given.length} matches, CPU ms (this process, max of 20)`,
        round(ranking.max, 1),
        '',
        '',
        '',
        '',
      ],
      [
        'former ranking of the same 60 inputs, CPU ms (this process)',
        round(formerRankingMs, 0),
        '',
        '',
        '',
        '',
      ],
    ],
  );

  // --- 2. Search p99 over a large history of one user ---------------------------------------------
  const user = 'bench-reader';
  // The gateway is stopped while the rows are added, as in bench:scale: memory's feed would find
  // the million new rows at its next poll and deliver them all to the gateway's subscription at
  // once, a backlog the product, fed through POST /input, never builds (it stalled searches by
  // 230-450 ms for about a second). A restarted gateway follows the feed from its head.
  await gateway.stop();
  const fillStart = performance.now();
  for (let from = 1; from <= ROWS; from += CHUNK) {
    const to = Math.min(ROWS, from + CHUNK - 1);
    // Correlated on g, so every row draws its own words.
    await client.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'bulk-' || g, $1,
              '${EVERYWHERE} ' || CASE WHEN g % 3 = 0 AND g <= ${Math.floor(ROWS * 0.7)} THEN '${PAST} ' ELSE '' END
                || (SELECT string_agg('t' || floor(power(random(), 3) * $4)::int || 'q', ' ')
                 FROM generate_series(1, 10 + (g % 7))),
              now() - interval '3 years' + g * interval '1 minute'
         FROM generate_series($2::int, $3::int) g`,
      [user, from, to, VOCABULARY],
    );
    progress(`${to} inputs of ${user} (${Math.round((performance.now() - fillStart) / 1000)} s)`);
  }
  const fillSeconds = (performance.now() - fillStart) / 1000;
  await gateway.start();
  await getJson(searchUrl('warm up', 10), `Bearer ${await tokenFor(user)}`);
  const size = await client.query<{ table: string; index: string }>(
    `SELECT pg_size_pretty(pg_table_size('inputs')) AS table, pg_size_pretty(pg_relation_size('inputs_content_search')) AS index`,
  );

  const pick = lcg(42);
  const bucket = (lo: number, hi: number) => word(lo + Math.floor(pick() * (hi - lo)));
  // Each query is 1-3 words; its class is that of its commonest word.
  const CLASSES = ['common (top 100)', 'middling (100-2,000)', 'rare (2,000-20,000)'] as const;
  const RANGES = [
    [0, 100],
    [100, 2000],
    [2000, VOCABULARY],
  ] as const;
  const queries = Array.from({ length: QUERIES }, (_, i) => {
    const kinds = Array.from({ length: 1 + (i % 3) }, () => Math.floor(pick() * 3));
    const words = kinds.map((k) => bucket(RANGES[k]?.[0] ?? 0, RANGES[k]?.[1] ?? VOCABULARY));
    return { text: words.join(' '), kind: Math.min(...kinds) };
  });
  const auth = `Bearer ${await tokenFor(user)}`;
  const endToEnd: number[][] = CLASSES.map(() => []);
  const inDb: number[][] = CLASSES.map(() => []);
  const inDbFormer: number[][] = CLASSES.map(() => []);
  let errors = 0;
  /** One search as memory runs it (BEGIN, settings, statement, COMMIT): the current statement or the former one. */
  const direct = async (q: string, former: boolean) => {
    const terms = searchTerms(q);
    // What cognition asks memory for a `GET /search?limit=10`: twice the matches, to re-rank.
    const options = { limit: 20, maxChars: 1000 };
    const t = performance.now();
    await client.query('BEGIN');
    await client.query(SEARCH_SETTINGS_SQL, [String(DEFAULT_SEARCH_BOUNDS.timeoutMs * 10)]);
    if (former) {
      const b = DEFAULT_SEARCH_BOUNDS;
      await client.query(FORMER_BY_WORDS, [
        user,
        terms.map((t) => (t.length >= 3 ? `${t}:*` : t)),
        b.candidates,
        b.sampleRows,
        b.sampleBytes,
        b.windowRows,
        b.windowBytes,
        options.maxChars,
        options.limit,
      ]);
    } else await client.query(SEARCH_SQL.byWords, byWordsParams(user, terms, options, DEFAULT_SEARCH_BOUNDS));
    await client.query('COMMIT');
    return performance.now() - t;
  };
  /** Both statements on the same query, back to back, the order alternating. */
  const both = async (q: string, i: number) => {
    const first = await direct(q, i % 2 === 0);
    const second = await direct(q, i % 2 !== 0);
    return i % 2 === 0 ? { former: first, current: second } : { former: second, current: first };
  };
  for (const q of queries.slice(0, 10)) {
    await getJson(searchUrl(q.text, 10), auth); // warm-up
    await both(q.text, 0);
  }
  /**
   * Requests each service answered in over 100 ms so far (its own request histogram, every route
   * but /health and /metrics): read before and after the mix, the difference says which process a
   * slow search was slow in.
   */
  const over100ms = async (url: string) => {
    const served = (await Metrics.scrape(url)).samples.filter(
      (m) =>
        m.name === 'http_request_duration_seconds_bucket' && !/health|metrics/.test(m.labels.route ?? ''),
    );
    const sum = (le: string) => served.filter((m) => m.labels.le === le).reduce((a, m) => a + m.value, 0);
    return sum('+Inf') - sum('0.1');
  };
  const slowBefore = await Promise.all([gateway.url, cognition.url, memory.url].map(over100ms));
  /** Each query's time end to end beside its statement's right after: where the slowest ones lost their time. */
  const slowest: { query: string; end_to_end_ms: number; statement_ms: number }[] = [];
  for (const [i, q] of queries.entries()) {
    const r = await getJson(searchUrl(q.text, 10), auth);
    if (r.status === 200 && !r.body.error) endToEnd[q.kind]?.push(r.ms);
    else errors++;
    const m = await both(q.text, i);
    slowest.push({ query: q.text, end_to_end_ms: round(r.ms, 1), statement_ms: round(m.current, 1) });
    inDb[q.kind]?.push(m.current);
    inDbFormer[q.kind]?.push(m.former);
  }
  // The hard cases, 30 times each: a word in every input, the commonest random word, each with a
  // rare one, a prefix shared by many words, a word in no input, and 32 words of every frequency.
  const specials = [
    { label: `"${EVERYWHERE}" (every input)`, text: EVERYWHERE },
    { label: `"${word(0)}" (commonest random word)`, text: word(0) },
    { label: `"${EVERYWHERE} ${word(15000)}" (every + rare)`, text: `${EVERYWHERE} ${word(15000)}` },
    { label: `"${word(0)} ${word(15000)}" (commonest + rare)`, text: `${word(0)} ${word(15000)}` },
    { label: '"t12" (prefix of 1,111 words)', text: 't12' },
    { label: '"nowhere" (no match)', text: 'nowhere' },
    { label: `"${PAST}" (common in the oldest 70% only)`, text: PAST },
    { label: `"${PAST} ${word(15000)}" (past + rare)`, text: `${PAST} ${word(15000)}` },
    {
      label: '32 words, common to rare',
      text: Array.from({ length: 32 }, (_, k) => word(Math.floor(k ** 2.8))).join(' '),
    },
  ];
  const special = [];
  for (const sp of specials) {
    const e2eMs: number[] = [];
    const cur: number[] = [];
    const old: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await getJson(searchUrl(sp.text, 10), auth);
      if (r.status === 200 && !r.body.error) e2eMs.push(r.ms);
      else errors++;
      const m = await both(sp.text, i);
      cur.push(m.current);
      old.push(m.former);
    }
    const matches = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM inputs WHERE to_tsvector('simple'::regconfig, content) @@ to_tsquery('simple', $1) AND user_id = $2`,
      [toTsquery(searchTerms(sp.text)), user],
    );
    special.push({
      label: sp.label,
      matches: Number(matches.rows[0]?.n),
      end_to_end: summarise(e2eMs),
      current: summarise(cur),
      former: summarise(old),
    });
  }
  const e2e = summarise(endToEnd.flat());
  const db = summarise(inDb.flat());
  const dbFormer = summarise(inDbFormer.flat());
  const verdict = (p99: number) => (p99 <= TARGET_P99_MS ? 'met' : 'MISSED');
  const row = (
    label: string,
    x: ReturnType<typeof summarise>,
    current: ReturnType<typeof summarise>,
    former: ReturnType<typeof summarise>,
    judged = true,
  ) => [
    label,
    x.count,
    `${round(x.p50, 1)} / ${round(x.p99, 1)}`,
    `${round(current.p50, 1)} / ${round(current.p99, 1)}`,
    `${round(former.p50, 1)} / ${round(former.p99, 1)}`,
    round(former.p99 / current.p99, 2),
    judged ? verdict(Math.max(x.p99, current.p99)) : '',
  ];
  const byClass = CLASSES.map((name, k) => ({
    name,
    end_to_end: summarise(endToEnd[k] ?? []),
    in_database: summarise(inDb[k] ?? []),
    in_database_former: summarise(inDbFormer[k] ?? []),
  }));
  printTable(
    `Search over ${ROWS.toLocaleString('en')} inputs of one user (unanalyzed table; filled in ${Math.round(fillSeconds)} s; table ${size.rows[0]?.table}, GIN index ${size.rows[0]?.index}); memory's statement now and before migration 007, back to back`,
    [
      '',
      'n',
      'GET /search p50 / p99 ms',
      'statement p50 / p99 ms',
      'former statement p50 / p99 ms',
      'p99 former ÷ now',
      `target p99 ≤ ${TARGET_P99_MS}`,
    ],
    [
      row('whole mix', e2e, db, dbFormer),
      ...byClass.map((c) => row(`  ${c.name}`, c.end_to_end, c.in_database, c.in_database_former, false)),
      ...special.map((c) => row(`${c.label}, in ${c.matches} inputs`, c.end_to_end, c.current, c.former)),
    ],
  );
  const slowAfter = await Promise.all([gateway.url, cognition.url, memory.url].map(over100ms));
  const slowIn = Object.fromEntries(
    ['gateway', 'cognition', 'memory'].map((name, i) => [name, (slowAfter[i] ?? 0) - (slowBefore[i] ?? 0)]),
  );
  progress(`requests over 100 ms during the mix, by the service's own histogram: ${JSON.stringify(slowIn)}`);
  slowest.sort((a, b) => b.end_to_end_ms - a.end_to_end_ms);
  printTable(
    'The 5 slowest searches of the mix end to end, and their statement right after',
    ['query', 'GET /search ms', 'statement ms'],
    slowest.slice(0, 5).map((s) => [s.query, s.end_to_end_ms, s.statement_ms]),
  );
  printJson({
    bench: 'search',
    machine: await machineNote(),
    event_loop: {
      idle,
      control: { ...control.loop, cpu_ms_per_request: control.cpu_ms_per_request },
      under_attack: { ...underAttack, cpu_ms_per_request: attacked.cpu_ms_per_request },
      target_max_ms: TARGET_LOOP_MS,
      attack_requests: attack.count,
      attack_errors: attackErrors,
      attack_request_p99_ms: round(attack.p99, 1),
      former_ranking_ms: round(formerRankingMs, 0),
      ranking_of_matches_ms: {
        p50: round(ranking.p50, 2),
        max: round(ranking.max, 2),
        matches: given.length,
      },
    },
    search: {
      rows: ROWS,
      fill_seconds: round(fillSeconds, 0),
      table_size: size.rows[0]?.table,
      index_size: size.rows[0]?.index,
      errors,
      end_to_end: { p50_ms: round(e2e.p50, 1), p99_ms: round(e2e.p99, 1), max_ms: round(e2e.max, 1) },
      in_database: { p50_ms: round(db.p50, 1), p99_ms: round(db.p99, 1), max_ms: round(db.max, 1) },
      in_database_former: {
        p50_ms: round(dbFormer.p50, 1),
        p99_ms: round(dbFormer.p99, 1),
        max_ms: round(dbFormer.max, 1),
      },
      by_class: byClass.map((c) => ({
        class: c.name,
        queries: c.end_to_end.count,
        end_to_end_p50_ms: round(c.end_to_end.p50, 1),
        end_to_end_p99_ms: round(c.end_to_end.p99, 1),
        in_database_p50_ms: round(c.in_database.p50, 1),
        in_database_p99_ms: round(c.in_database.p99, 1),
        in_database_former_p99_ms: round(c.in_database_former.p99, 1),
      })),
      hard_cases: special.map((c) => ({
        query: c.label,
        matches: c.matches,
        end_to_end_p99_ms: round(c.end_to_end.p99, 1),
        in_database_p50_ms: round(c.current.p50, 1),
        in_database_p99_ms: round(c.current.p99, 1),
        in_database_former_p99_ms: round(c.former.p99, 1),
      })),
      target_p99_ms: TARGET_P99_MS,
      slowest: slowest.slice(0, 5),
      over_100ms_by_service: slowIn,
    },
  });
} finally {
  await client.end().catch(() => {});
  await Promise.all(services.map((s) => s.stop()));
  await iso.drop().catch(() => {});
}
