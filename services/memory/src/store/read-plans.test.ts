import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { auto_explain } from '@electric-sql/pglite/contrib/auto_explain';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Queryable, QueryResult } from '../db/database';
import { loadMigrations } from '../db/migrate';
import { eventsAfter, headSeq } from './feed-store';
import { conversation, historyFor } from './input-store';
import { byWordsParams, DEFAULT_SEARCH_BOUNDS, SEARCH_SETTINGS_SQL, SEARCH_SQL } from './search-store';

/**
 * Issue 13: without fresh statistics (autovacuum off here, or lagging its inserts anywhere) the
 * planner guessed selectivities and read the feed as a seq scan of the whole table plus a sort.
 * These tests first reproduce that plan with the query as it was, on an unanalyzed table, then
 * show that every read now walks the index in its own order: on an empty table, an unanalyzed
 * one, an analyzed one, and one whose statistics went stale while a single user grew.
 *
 * The reads are PL/pgSQL functions (migration 003); their inner plans are read with auto_explain,
 * whose LOG lines reach this client (client_min_messages = log), on both PostgreSQL and PGlite.
 */

/** The feed read before issue 13, verbatim: the plan to reproduce. */
const OLD_FEED_READ = `SELECT seq, 'input' AS type, user_id,
            jsonb_build_object('id', id, 'conversation_id', conversation_id, 'content', content,
                               'metadata', metadata) AS payload
       FROM inputs WHERE seq > $1 AND ($2::text IS NULL OR user_id = $2)
     UNION ALL
     SELECT seq, 'task_failed' AS type, user_id,
            jsonb_build_object('id', id, 'task', task, 'error', error) AS payload
       FROM failed_tasks WHERE seq > $1 AND ($2::text IS NULL OR user_id = $2)
     ORDER BY seq ASC LIMIT $3`;
/** The history read before issue 13. */
const OLD_HISTORY_READ = `SELECT id FROM inputs WHERE user_id = $1 ORDER BY "timestamp" DESC, seq DESC LIMIT $2`;

// Enough rows that the guessed plan is the bad one on both engines (it is from about 10k).
const ROWS = 20_000;
const USERS = 64;

interface Probe extends Queryable {
  /** Runs `fn` and returns the plans auto_explain logged for the statements inside functions. */
  innerPlans(fn: () => Promise<unknown>): Promise<string[]>;
  explain(sql: string, params: unknown[]): Promise<string>;
  close(): Promise<void>;
}

async function pgProbe(base: string): Promise<Probe> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  const logged: string[] = [];
  client.on('notice', (n) => {
    if (n.message) logged.push(n.message);
  });
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const r = await client.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql) {
      await client.query(sql);
    },
    async innerPlans(fn) {
      logged.length = 0;
      await fn();
      return logged.filter((m) => !/Query Text: SELECT \* FROM memory_/.test(m));
    },
    async explain(sql, params) {
      const r = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    },
    async close() {
      await client.end();
    },
  };
}

async function pgliteProbe(): Promise<Probe> {
  const db = new PGlite({ extensions: { auto_explain } });
  await db.waitReady;
  const logged: string[] = [];
  const onNotice = (n: { message?: string }) => {
    if (n.message) logged.push(n.message);
  };
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const r = await db.query<T>(sql, params, { onNotice });
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql) {
      await db.exec(sql);
    },
    async innerPlans(fn) {
      logged.length = 0;
      await fn();
      return logged.filter((m) => !/Query Text: SELECT \* FROM memory_/.test(m));
    },
    async explain(sql, params) {
      const r = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    },
    async close() {
      await db.close();
    },
  };
}

const migrations = loadMigrations();
const before003 = migrations.filter((m) => m.version < '003');

async function migrateTo(db: Probe, list: typeof migrations) {
  for (const m of list) await db.exec(m.sql);
}

let fills = 0;

/** `n` inputs spread over USERS users and 1000 conversations, never analyzed. */
async function fill(db: Probe, n: number, user?: string) {
  fills += 1;
  await db.exec(
    `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp")
     SELECT 'in-${fills}-' || g, ${user ? `'${user}'` : `'u' || (g % ${USERS})`},
            'c' || (g % 1000), 'hello ' || g, '{"n": 1}', now() - (${n} - g) * interval '1 ms'
       FROM generate_series(1, ${n}) g`,
  );
}

const SORT_NODE = /(^|->)\s*(Incremental )?Sort\s+\(cost/m;

/** An index-ordered plan: an index scan, no seq or bitmap scan, no sort of what it read. */
function expectIndexOrdered(plan: string) {
  expect(plan).toMatch(/Index (Only )?Scan/);
  expect(plan).not.toMatch(/Seq Scan|Bitmap/);
  expect(plan).not.toMatch(SORT_NODE);
}

async function expectEveryReadIndexOrdered(db: Probe, state: string) {
  const reads: Record<string, () => Promise<unknown>> = {
    'feed, every user': () => eventsAfter(db, 100, undefined, 500),
    'feed, one user': () => eventsAfter(db, 100, 'u5', 500),
    history: () => historyFor(db, 'u5', 1000),
    conversation: () => conversation(db, 'c5', undefined, 1000),
    'conversation, one user': () => conversation(db, 'c5', 'u5', 1000),
  };
  for (const [name, read] of Object.entries(reads)) {
    const plans = await db.innerPlans(read);
    expect(plans, `${name} (${state}) logged its plan`).toHaveLength(1);
    try {
      expectIndexOrdered(plans[0] as string);
    } catch (err) {
      throw new Error(`${name} on ${state}: ${(err as Error).message}\n${plans[0]}`);
    }
  }
  const head = await db.explain(
    'SELECT GREATEST((SELECT max(seq) FROM inputs), (SELECT max(seq) FROM failed_tasks), 0)::bigint',
    [],
  );
  expect(head).toMatch(/Index Only Scan Backward using inputs_seq_key/);
  expect(head).toMatch(/Index Only Scan Backward using failed_tasks_seq_key/);
  expect(head).not.toMatch(/Seq Scan|Bitmap/);
}

/**
 * The plans of one search's statements (migrations 005 and 007), as the search runs them: in its own
 * transaction under its settings. Small bounds, so that on the filled tables every statement runs:
 * "hello" is in each of u5's 50 newest inputs (common: its newest matches are scanned for), "777"
 * in none (rare: the GIN index), and "vintage", once the last state adds it, in many of u5's inputs
 * but none of the newest (common in the past: scanned for where the probes saw it).
 */
async function searchPlans(db: Probe) {
  const bounds = { ...DEFAULT_SEARCH_BOUNDS, sampleRows: 50, windowRows: 100 };
  return db.innerPlans(async () => {
    await db.exec('BEGIN');
    try {
      await db.query(SEARCH_SETTINGS_SQL, ['5000']);
      await db.query(
        SEARCH_SQL.byWords,
        byWordsParams('u5', ['hello', '777', 'vintage'], { limit: 10, maxChars: 1000 }, bounds),
      );
    } finally {
      await db.exec('COMMIT');
    }
  });
}

/**
 * The search's newest-first statements walk the history index in order, its GIN statement the
 * GIN index, and the candidates are fetched by seq: never a scan of all of the user's rows.
 */
async function expectSearchIndexed(db: Probe, state: string, filled: boolean, pastWord = false) {
  const plans = await searchPlans(db);
  const marked = (marker: RegExp) => plans.filter((p) => marker.test(p));
  const plan = (marker: RegExp) => {
    const found = marked(marker);
    expect(found, `${state}: one plan for ${marker}\n${plans.join('\n---\n')}`).toHaveLength(1);
    return found[0] as string;
  };
  const newestFirst = (name: string, p: string) => {
    try {
      expectIndexOrdered(p);
      expect(p).toMatch(/Index Scan using inputs_user_time_seq/);
    } catch (err) {
      throw new Error(`search ${name} on ${state}: ${(err as Error).message}\n${p}`);
    }
  };
  newestFirst('sample', plan(/Query Text:[\s\S]*> p_sample_bytes AS cut/));
  const fetch = plan(/Query Text:[\s\S]*ts_rank/);
  expect(fetch, `${state}\n${fetch}`).toMatch(/Index Cond: \(seq = ANY/);
  expect(fetch, `${state}\n${fetch}`).not.toMatch(/Seq Scan|Index Cond: \(user_id/);
  const common = /Query Text:[\s\S]*@@ cq/;
  const rare = /Query Text:[\s\S]*@@ rq/;
  const past = /Query Text:[\s\S]*@@ pq/;
  if (!filled) {
    // An empty history is all in the sample, which is then exact: nothing else is read.
    expect(marked(common)).toEqual([]);
    expect(marked(rare)).toEqual([]);
    return;
  }
  newestFirst('newest matches of common words', plan(common));
  // The probes and the scans for words common in the past walk the user_seq index down.
  const bySeq = (name: string, p: string) => {
    try {
      expectIndexOrdered(p);
      expect(p).toMatch(/Index (Only )?Scan( Backward)? using inputs_user_seq/);
    } catch (err) {
      throw new Error(`search ${name} on ${state}: ${(err as Error).message}\n${p}`);
    }
  };
  bySeq('probes', plan(/Query Text:[\s\S]*p_probe_chars/));
  bySeq("the user's first seq", plan(/Query Text: lo := /));
  bySeq("the user's last seq", plan(/Query Text: hi := /));
  for (const p of marked(past)) bySeq('past matches', p);
  if (pastWord) expect(marked(past), state).toHaveLength(1);
  // One GIN lookup per rare word.
  const gins = marked(rare);
  expect(gins.length, `${state}\n${plans.join('\n---\n')}`).toBeGreaterThan(0);
  for (const gin of gins) {
    expect(gin, `${state}\n${gin}`).toMatch(/Bitmap Index Scan on inputs_content_search/);
    expect(gin, `${state}\n${gin}`).not.toMatch(/Seq Scan|inputs_user_time|inputs_user_seq/);
  }
}

async function logPlans(db: Probe) {
  await db.exec(`LOAD 'auto_explain'`);
  await db.exec('SET auto_explain.log_min_duration = 0');
  await db.exec('SET auto_explain.log_nested_statements = on');
  await db.exec('SET client_min_messages = log');
}

const engines: { name: string; open: () => Promise<Probe> }[] = [{ name: 'pglite', open: pgliteProbe }];
const base = process.env.DATABASE_URL;
if (base) engines.unshift({ name: 'postgres', open: () => pgProbe(base) });

describe.each(engines)('read plans on $name', ({ open }) => {
  // One connection per engine (PGlite takes seconds to start with auto_explain), a fresh schema
  // per test, all dropped at the end.
  let db: Probe | undefined;
  const schemas: string[] = [];
  const probe = async () => {
    db ??= await open();
    const schema = `plans_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    await db.exec(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
    return db;
  };
  afterAll(async () => {
    if (!db) return;
    await db.exec('RESET client_min_messages');
    for (const schema of schemas) await db.exec(`DROP SCHEMA ${schema} CASCADE`);
    await db.close();
  });

  it('reproduces the old plans on an unanalyzed table: a scan of every row, then a sort', async () => {
    const db = await probe();
    await migrateTo(db, before003);
    await fill(db, ROWS);
    const feed = await db.explain(OLD_FEED_READ, [ROWS - 1000, null, 500]);
    expect(feed).toMatch(/Seq Scan on inputs/);
    expect(feed).toMatch(SORT_NODE);
    const history = await db.explain(OLD_HISTORY_READ, ['u5', 1000]);
    expect(history).toMatch(/Bitmap Heap Scan on inputs|Seq Scan on inputs/);
    expect(history).toMatch(SORT_NODE);
  }, 120_000);

  it('walks an index in order on an empty, an unanalyzed, an analyzed and a stale table', async () => {
    const db = await probe();
    await migrateTo(db, migrations);
    await logPlans(db);
    await expectEveryReadIndexOrdered(db, 'an empty table');
    await expectSearchIndexed(db, 'an empty table', false);
    await fill(db, ROWS);
    await db.exec(
      `INSERT INTO failed_tasks (id, user_id, task, error, duration_ms)
       SELECT 'ft-' || g, 'u' || (g % ${USERS}), 'get_context', 'boom', 5 FROM generate_series(1, 200) g`,
    );
    await expectEveryReadIndexOrdered(db, 'an unanalyzed table');
    await expectSearchIndexed(db, 'an unanalyzed table', true);
    await db.exec('ANALYZE inputs');
    await db.exec('ANALYZE failed_tasks');
    await expectEveryReadIndexOrdered(db, 'an analyzed table');
    await expectSearchIndexed(db, 'an analyzed table', true);
    // One user's rows double the table after the statistics were taken: they now say that user
    // is rare, which is what made the planner sort all of a user's rows.
    await fill(db, ROWS, 'u5');
    await expectEveryReadIndexOrdered(db, 'a table grown past its statistics');
    await expectSearchIndexed(db, 'a table grown past its statistics', true);
    // u5's newest third by seq, all older than the rest by time: "vintage" is common in the past.
    await db.exec(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'vintage-' || g, 'u5', 'vintage ' || g, now() - interval '1 year' FROM generate_series(1, ${ROWS}) g`,
    );
    await expectSearchIndexed(db, 'a table with a word common in the past', true, true);
  }, 120_000);

  it('answers the same rows as before, in order', async () => {
    const db = await probe();
    await migrateTo(db, migrations);
    await fill(db, 3000);
    await db.exec(
      `INSERT INTO failed_tasks (id, user_id, task, error, duration_ms, backends_tried)
       VALUES ('ft-1', 'u5', 'get_context', 'boom', 5, '["a"]')`,
    );
    const all = await db.query<{ seq: number; user_id: string }>(
      'SELECT seq, user_id FROM (SELECT seq, user_id FROM inputs UNION ALL SELECT seq, user_id FROM failed_tasks) e ORDER BY seq',
    );
    const seqs = all.rows.map((r) => Number(r.seq));
    const feed = await eventsAfter(db, seqs[100] as number, undefined, 500);
    expect(feed.map((e) => e.seq)).toEqual(seqs.slice(101, 601));
    const mine = await eventsAfter(db, 0, 'u5', 10_000);
    expect(mine.map((e) => e.seq)).toEqual(
      all.rows.filter((r) => r.user_id === 'u5').map((r) => Number(r.seq)),
    );
    const failed = mine.find((e) => e.type === 'task_failed');
    expect(JSON.parse(failed?.payload ?? '{}')).toMatchObject({
      id: 'ft-1',
      task: 'get_context',
      backends_tried: ['a'],
      duration_ms: 5,
    });
    const input = JSON.parse(feed[0]?.payload ?? '{}');
    expect(input).toMatchObject({ metadata: { n: 1 } });
    expect(input.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const history = await historyFor(db, 'u5', 20);
    expect(history).toHaveLength(20);
    const times = history.map((h) => h.timestamp);
    expect([...times].sort().reverse()).toEqual(times);
    expect(history.every((h) => h.user_id === 'u5')).toBe(true);

    const conv = await conversation(db, 'c5', undefined, 2);
    expect(conv).toHaveLength(2);
    expect((conv[0] as { seq: number }).seq).toBeLessThan((conv[1] as { seq: number }).seq);
    const newest = await db.query<{ seq: number }>(
      `SELECT seq FROM inputs WHERE conversation_id = 'c5' ORDER BY "timestamp" DESC, seq DESC LIMIT 2`,
    );
    expect(conv.map((c) => c.seq)).toEqual(newest.rows.map((r) => Number(r.seq)).reverse());
    expect(await headSeq(db)).toBe(seqs.at(-1));
  }, 60_000);
});
