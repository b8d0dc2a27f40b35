import { createServiceApp, GroupCommitter, registerTools } from '@cortex/service-kit';
import { testDatabases } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable } from '../db/database';
import { mapDbError } from '../db/db-errors';
import { migrate } from '../db/migrate';
import { PgDatabase } from '../db/pg-database';
import { insertBatch, type NewInput, type StoreOutcome } from '../store/input-store';
import {
  DEFAULT_SEARCH_BOUNDS,
  MAX_SEARCH_TERMS,
  SEARCH_SQL,
  type SearchBounds,
} from '../store/search-store';
import { searchTools } from './search-tools';
import type { MemoryContext } from './tool';

const HOUR = 3_600_000;
const NOW = Date.now();

/** An app serving the search tools over `db`, with the given search bounds. */
function searchApp(db: Database, bounds: Partial<SearchBounds>) {
  const app = createServiceApp({ service: 'memory', logLevel: 'silent' });
  registerTools(
    app,
    searchTools,
    {
      db,
      committer: new GroupCommitter<NewInput, StoreOutcome>((items) => insertBatch(db, items)),
      search: { ...DEFAULT_SEARCH_BOUNDS, ...bounds },
    },
    mapDbError,
  );
  return app;
}

// What PostgreSQL raises when a statement_timeout fires, raised by the engine itself.
const CANCELLED_SQL = `DO $$ BEGIN RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = 'query_canceled'; END $$`;

/**
 * `db` whose search statements are cancelled as by their statement timeout. PGlite (WebAssembly,
 * no timer signals) does not enforce `statement_timeout`: there the search statement is replaced
 * by one that raises the same error (57014) in the engine, inside the real transaction.
 */
function cancellingSearches(db: Database): Database {
  const searchSql = new Set(Object.values(SEARCH_SQL));
  return Object.assign(Object.create(db) as Database, {
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      db.transaction((tx) =>
        fn({
          exec: (sql: string) => tx.exec(sql),
          query: <R>(sql: string, params?: unknown[]) =>
            searchSql.has(sql) ? tx.query<R>(CANCELLED_SQL) : tx.query<R>(sql, params),
        }),
      ),
  });
}

describe.each(testDatabases())('search_inputs on $name', (target) => {
  let app: FastifyInstance;
  let db: Database;
  const search = async (args: Record<string, unknown>, on = app) => {
    const res = await on.inject({
      method: 'POST',
      url: '/tool/search_inputs',
      payload: { arguments: args },
    });
    return { status: res.statusCode, body: res.json() };
  };
  const found = async (args: Record<string, unknown>, on = app) => {
    const { status, body } = await search(args, on);
    expect(status, JSON.stringify(body)).toBe(200);
    return body.result as {
      results: {
        id: string;
        user_id: string;
        content: string;
        rank: number;
        truncated: boolean;
        content_bytes: number;
      }[];
      count: number;
      terms: string[];
    };
  };
  const input = (id: string, user_id: string, content: string, hoursAgo: number): NewInput => ({
    id,
    user_id,
    conversation_id: null,
    content,
    metadata: {},
    timestamp: new Date(NOW - hoursAgo * HOUR).toISOString(),
  });

  beforeAll(async () => {
    db = await target.open();
    await migrate(db);
    const ctx: MemoryContext = {
      db,
      committer: new GroupCommitter<NewInput, StoreOutcome>((items) => insertBatch(db, items)),
    };
    app = createServiceApp({ service: 'memory', logLevel: 'silent' });
    registerTools(app, searchTools, ctx, mapDbError);
    await insertBatch(db, [
      input('a-both', 'alice', 'The database lock held the deploy again.', 30),
      input('a-one', 'alice', 'The database was slow today.', 1),
      input('a-prefix', 'alice', 'Deployment notes for the cluster.', 2),
      input('a-none', 'alice', 'Lunch plans: pizza on friday?', 3),
      input('a-long', 'alice', `kubernetes ${'filler words here '.repeat(500)}`, 4),
      input('b-both', 'bob', 'Bob: the database lock, the deploy, everything alice searches for.', 0),
    ]);
    // Older than the newest 1000 of alice's inputs: a window on recent history could never find it.
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'a-filler-' || g, 'alice', 'filler note number ' || g, now() - interval '1 day' + g * interval '1 second'
         FROM generate_series(1, 1500) g`,
    );
    await insertBatch(db, [input('a-ancient', 'alice', 'The zeppelin manifest from long ago.', 24 * 400)]);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
    await target.cleanup();
  });

  it('ranks the inputs matching more of the query first, finds prefixes, and leaves non-matches out', async () => {
    const r = await found({ user_id: 'alice', query: 'database lock deploy' });
    const ids = r.results.map((m) => m.id);
    expect(ids[0]).toBe('a-both');
    expect(ids).toEqual(expect.arrayContaining(['a-both', 'a-one', 'a-prefix']));
    expect(ids).not.toContain('a-none');
    expect(r.results[0]?.rank).toBeGreaterThan(r.results[1]?.rank ?? 0);
    expect(r.terms).toEqual(['database', 'lock', 'deploy']);
  });

  it('never returns another user’s inputs', async () => {
    const r = await found({ user_id: 'alice', query: 'bob everything searches' });
    expect(r.results).toEqual([]);
    const all = await found({ user_id: 'alice', query: 'database lock deploy the', limit: 100 });
    expect(all.results.length).toBeGreaterThan(0);
    expect(all.results.every((m) => m.user_id === 'alice')).toBe(true);
    const bob = await found({ user_id: 'bob', query: 'database' });
    expect(bob.results.map((m) => m.id)).toEqual(['b-both']);
  });

  it('searches the whole history: an input older than the newest 1000 is found', async () => {
    const r = await found({ user_id: 'alice', query: 'zeppelin' });
    expect(r.results.map((m) => m.id)).toEqual(['a-ancient']);
  });

  describe('when reading inputs costs less than collecting matches', () => {
    // Reading an input weighed as about half a collected match: a word in most of the sample is
    // looked for newest first (so it is with the default weight, on a table of this size).
    let newestFirst: FastifyInstance;
    beforeAll(() => {
      newestFirst = searchApp(db, { byteCost: 0.02 });
    });
    afterAll(async () => {
      await newestFirst?.close();
    });

    it('answers a word in every input by its newest matches, not the first the index finds', async () => {
      // "note" is in 1500 of alice's inputs. They rank alike (same words, same length), so the newest
      // come first.
      const r = await found({ user_id: 'alice', query: 'note', limit: 5 }, newestFirst);
      expect(r.results.map((m) => m.id)).toEqual([1500, 1499, 1498, 1497, 1496].map((g) => `a-filler-${g}`));
      // Weighed as costlier than the whole table's matches, reading loses: the index gives the
      // oldest (table order) as candidates.
      const indexed = searchApp(db, { byteCost: 1000 });
      try {
        const byIndex = await found({ user_id: 'alice', query: 'note', limit: 5 }, indexed);
        expect(byIndex.results.map((m) => m.id)).not.toContain('a-filler-1500');
      } finally {
        await indexed.close();
      }
    });

    it('finds a rare word’s old inputs beside a common word’s newest ones in one query', async () => {
      // "filler" is in 1500 inputs, "zeppelin" and "manifest" in one older than all of them, which
      // matches two of the three words and so ranks first.
      const r = await found({ user_id: 'alice', query: 'filler zeppelin manifest', limit: 100 }, newestFirst);
      const ids = r.results.map((m) => m.id);
      expect(ids[0]).toBe('a-ancient');
      const fillers = ids.filter((id) => id.startsWith('a-filler-')).map((id) => Number(id.slice(9)));
      expect(fillers.length).toBeGreaterThan(90);
      // The common word's candidates are its newest matches.
      expect(Math.min(...fillers)).toBeGreaterThan(1000);
      expect(r.results.every((m) => m.user_id === 'alice')).toBe(true);
    });

    it('asks the index for every word when the common ones have fewer newest matches than the limit', async () => {
      // "number" is in every filler, so it looks common; but its matches within the newest 50
      // inputs scanned are fewer than the 100 asked for: the index is asked for every word.
      const narrow = searchApp(db, { byteCost: 0.02, windowRows: 50 });
      try {
        const r = await found({ user_id: 'alice', query: 'number zeppelin manifest', limit: 100 }, narrow);
        expect(r.count).toBe(100);
        // The rare words' match is kept beside the index's first finds of every word.
        expect(r.results[0]?.id).toBe('a-ancient');
      } finally {
        await narrow.close();
      }
    });
  });

  describe('a word the user wrote often long ago but not lately', () => {
    // carol: 600 old inputs with "legacy", then 600 newer ones without. The newest sample never
    // sees "legacy"; the probes spread over her history do.
    beforeAll(async () => {
      await db.query(
        `INSERT INTO inputs (id, user_id, content, "timestamp")
         SELECT 'c-' || g, 'carol', CASE WHEN g <= 600 THEN 'legacy report ' ELSE 'fresh update ' END || g,
                now() - interval '30 days' + g * interval '1 minute'
           FROM generate_series(1, 1200) g`,
      );
    });
    const numbers = (r: { results: { id: string }[] }) => r.results.map((m) => Number(m.id.slice(2)));

    it('is collected where the probes saw it, not by the GIN index from the oldest inputs on', async () => {
      const r = await found({ user_id: 'carol', query: 'legacy', limit: 5 });
      expect(r.count).toBe(5);
      expect(numbers(r).every((n) => n <= 600)).toBe(true);
      // Candidates from a scan downwards from the newest probed input holding the word: the probes
      // sit at every 16th of her history, so the newest one holding it is past input 450.
      expect(Math.min(...numbers(r))).toBeGreaterThan(300);
      // Without probes the word looks rare: the index's first finds in table order, the oldest.
      const unprobed = searchApp(db, { probes: 0 });
      try {
        const old = await found({ user_id: 'carol', query: 'legacy', limit: 5 }, unprobed);
        expect(old.count).toBe(5);
        expect(Math.max(...numbers(old))).toBeLessThan(300);
      } finally {
        await unprobed.close();
      }
    });
  });

  it('falls back to the GIN index for a word common in the past whose inputs exceed the scan’s bytes', async () => {
    // gina: 200 old inputs of 2 KB with "helm", then 300 short newer ones. With a 1 KB window the
    // past word's scan keeps only the probed input itself; the index finds the rest.
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'g-old-' || g, 'gina', 'helm chart ' || g || ' ' || repeat('x', 2000), now() - interval '60 days' + g * interval '1 minute'
         FROM generate_series(1, 200) g`,
    );
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'g-new-' || g, 'gina', 'standup ' || g, now() - g * interval '1 minute' FROM generate_series(1, 300) g`,
    );
    const narrow = searchApp(db, { windowBytes: 1000 });
    try {
      const r = await found({ user_id: 'gina', query: 'helm', limit: 10 }, narrow);
      expect(r.count).toBe(10);
      expect(r.results.every((m) => m.id.startsWith('g-old-'))).toBe(true);
    } finally {
      await narrow.close();
    }
  });

  it('finds a word in two inputs far apart, one just below a long gap in the user’s seqs', async () => {
    // frank: "quokka" in his oldest input, 1200 fillers, "quokka" again, then 1000 of another
    // user's inputs (a gap in frank's seqs that several probes fall into), then 100 recent ones.
    await insertBatch(db, [input('f-first', 'frank', 'A quokka at dawn.', 24 * 90)]);
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'f-fill-' || g, 'frank', 'frank filler ' || g, now() - interval '80 days' + g * interval '1 minute'
         FROM generate_series(1, 1200) g`,
    );
    await insertBatch(db, [input('f-second', 'frank', 'Another quokka, at dusk.', 24 * 60)]);
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'other-' || g, 'somebody-else', 'unrelated ' || g, now() FROM generate_series(1, 1000) g`,
    );
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'f-new-' || g, 'frank', 'recent note ' || g, now() - g * interval '1 minute' FROM generate_series(1, 100) g`,
    );
    const r = await found({ user_id: 'frank', query: 'quokka' });
    expect(r.results.map((m) => m.id).sort()).toEqual(['f-first', 'f-second']);
  });

  it('asks the GIN index for the rarest words first and for more only within its time budget', async () => {
    // dave: 100 recent inputs, then two older ones, each with a word in no other input.
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'd-' || g, 'dave', 'daily standup ' || g, now() - g * interval '1 minute' FROM generate_series(1, 100) g`,
    );
    await insertBatch(db, [
      input('d-zeppelin', 'dave', 'Zeppelins over the bay.', 24 * 30),
      input('d-kumquat', 'dave', 'A kumquat tart.', 24 * 31),
    ]);
    const both = await found({ user_id: 'dave', query: 'kumquat zeppelins' });
    expect(both.results.map((m) => m.id).sort()).toEqual(['d-kumquat', 'd-zeppelin']);
    // One word always looked up, no budget for more: only the first, the longer one (longer words
    // are rarer).
    const hurried = searchApp(db, { ginWords: 1, ginBudgetMs: 0 });
    try {
      const one = await found({ user_id: 'dave', query: 'kumquat zeppelins' }, hurried);
      expect(one.results.map((m) => m.id)).toEqual(['d-zeppelin']);
    } finally {
      await hurried.close();
    }
  });

  it('fills the candidates with distinct inputs when the words are found together', async () => {
    // erin: 30 old inputs each holding all four query words, then 1000 newer ones (so that no
    // probe but the first sees the words: they look rare, not common in the past). Each word's
    // first matches in table order are the same inputs: each lookup must bring new ones.
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'e-old-' || g, 'erin', 'alpha bravo charlie delta ' || g, now() - interval '40 days' + g * interval '1 minute'
         FROM generate_series(1, 30) g`,
    );
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'e-new-' || g, 'erin', 'weekly notes ' || g, now() - g * interval '1 minute' FROM generate_series(1, 1000) g`,
    );
    const few = searchApp(db, { candidates: 8 });
    try {
      const r = await found({ user_id: 'erin', query: 'alpha bravo charlie delta', limit: 100 }, few);
      expect(new Set(r.results.map((m) => m.id)).size).toBe(8);
    } finally {
      await few.close();
    }
  });

  it('keeps to the limit and sends at most max_chars of each input', async () => {
    const r = await found({ user_id: 'alice', query: 'filler', limit: 7, max_chars: 100 });
    expect(r.count).toBe(7);
    expect(r.results).toHaveLength(7);
    const long = (await found({ user_id: 'alice', query: 'kubernetes', max_chars: 100 })).results[0];
    expect(long).toMatchObject({ id: 'a-long', truncated: true });
    expect(long?.content).toHaveLength(100);
    expect(long?.content_bytes).toBeGreaterThan(8000);
    const short = (await found({ user_id: 'alice', query: 'zeppelin', max_chars: 100 })).results[0];
    expect(short?.truncated).toBe(false);
  });

  it('matches a query without words as text in the newest inputs', async () => {
    const r = await found({ user_id: 'alice', query: '?' });
    expect(r.results.map((m) => m.id)).toEqual(['a-none']);
    expect(r.terms).toEqual([]);
  });

  it('answers hostile queries with 200 or 400, never a 5xx', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}`).join(' ');
    const capped = await found({ user_id: 'alice', query: `${many} zeppelin` });
    expect(capped.terms).toHaveLength(MAX_SEARCH_TERMS);
    for (const query of [
      "'database' & !lock:* | (deploy",
      '&|!():*',
      '!!!(((',
      "''''",
      'database:A & lock:*B',
      '<-> <2> database <-> lock',
      'or and not -database "lock',
      '\\',
      '😀 database',
    ]) {
      const { status, body } = await search({ user_id: 'alice', query });
      expect(status, `${query}: ${JSON.stringify(body)}`).toBe(200);
      expect(body.result.results.every((m: { user_id: string }) => m.user_id === 'alice')).toBe(true);
    }
    for (const query of [
      '',
      '   ',
      'x'.repeat(10_001),
      'data\u0000base',
      'lone \uD800 surrogate',
      'x \uDC00',
    ]) {
      const { status, body } = await search({ user_id: 'alice', query });
      expect(status, JSON.stringify(query.slice(0, 20))).toBe(400);
      expect(body.error.code).toBe('invalid_request');
    }
    for (const bad of [{ limit: 0 }, { limit: 101 }, { max_chars: 5000 }, { user_id: '' }]) {
      const { status } = await search({ user_id: 'alice', query: 'database', ...bad });
      expect(status).toBe(400);
    }
  });

  it('answers a search past its own statement timeout with 200, no results and timed_out', async () => {
    // Many inputs for one user, all matching: ranking them all takes far longer than 1 ms.
    await db.query(
      `INSERT INTO inputs (id, user_id, content, "timestamp")
       SELECT 'slow-' || g, 'slowpoke', repeat('sluggish query material ' || g || ' ', 40), now() - g * interval '1 second'
         FROM generate_series(1, 5000) g`,
    );
    const bounded = searchApp(target.name === 'pglite' ? cancellingSearches(db) : db, {
      candidates: 10_000,
      timeoutMs: 1,
    });
    try {
      const res = await bounded.inject({
        method: 'POST',
        url: '/tool/search_inputs',
        payload: { arguments: { user_id: 'slowpoke', query: 'sluggish query material', limit: 100 } },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['retry-after']).toBeUndefined();
      expect(res.json().result).toEqual({
        results: [],
        count: 0,
        terms: ['sluggish', 'query', 'material'],
        timed_out: true,
      });
    } finally {
      await bounded.close();
    }
    // The same search within the default bound finds them, and says it did not time out.
    const r = await found({ user_id: 'slowpoke', query: 'sluggish query material', limit: 3 });
    expect(r.count).toBe(3);
    expect(r).toMatchObject({ timed_out: false });
  });
  // Its plans (history index for the newest window, GIN index for rarer words) are tested in
  // store/read-plans.test.ts, on an empty, an unanalyzed, an analyzed and a grown table.
});

describe('search_inputs with the database unreachable', () => {
  it('stays a 503 service_unavailable: only the search’s own timeout is an answer', async () => {
    const db = new PgDatabase({
      connectionString: 'postgres://postgres@127.0.0.1:9/none',
      statementTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      maxConnections: 1,
    });
    const app = searchApp(db, { candidates: 200, timeoutMs: 1 });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/tool/search_inputs',
        payload: { arguments: { user_id: 'alice', query: 'database' } },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('service_unavailable');
    } finally {
      await app.close();
      await db.close();
    }
  });
});
