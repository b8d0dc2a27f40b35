import type { Database, Queryable } from '../db/database';

/** Bounds on what one search may cost the database (see docs/design.md, "Search"). */
export interface SearchBounds {
  /** Most matching inputs ranked per search from the GIN index (and at most from the newest scan). */
  candidates: number;
  /** `statement_timeout` of the search's own transaction. */
  timeoutMs: number;
  /** The sample each query word is counted in, to tell rare from common: the user's newest inputs… */
  sampleRows: number;
  /** …and at most this many bytes of their content (tokenizing them is the sample's cost). */
  sampleBytes: number;
  /**
   * What reading one byte of content costs the newest-first scan (its tsvector computed), in GIN
   * matches collected: weighs the two ways of finding a word's matches against each other. Measured
   * here: tokenizing costs about 0.1-0.15 µs a byte, the GIN index 0.3-0.5 µs a match (a prefix).
   */
  byteCost: number;
  /** The common words' newest matches are looked for in at most this many newest inputs… */
  windowRows: number;
  /** …and this many bytes of their content. */
  windowBytes: number;
  /**
   * The GIN index is asked for one word at a time, rarest first: the first `ginWords` always (a short
   * query's answer must not depend on the machine's load), the others until the statement has run
   * for `ginBudgetMs`. The search's cost is then bounded whatever the number of its words.
   */
  ginWords: number;
  ginBudgetMs: number;
  /**
   * Probes of the user's older history, spread evenly over it, to tell a word common in the past
   * (its matches then scanned for where a probe saw it) from a rare one…
   */
  probes: number;
  /** …each this many inputs… */
  probeRows: number;
  /** …of which only the first this many characters are read. */
  probeChars: number;
}

export const DEFAULT_SEARCH_BOUNDS: SearchBounds = {
  candidates: 200,
  timeoutMs: 1000,
  sampleRows: 64,
  sampleBytes: 16 * 1024,
  byteCost: 0.3,
  windowRows: 1000,
  windowBytes: 64 * 1024,
  ginWords: 4,
  ginBudgetMs: 20,
  probes: 16,
  probeRows: 4,
  probeChars: 2000,
};

/** Most query words a search uses; the rest are ignored (each one is a GIN lookup). */
export const MAX_SEARCH_TERMS = 32;
/** Longest query word kept (longer ones are cut): PostgreSQL ignores lexemes over 2 KB anyway. */
const MAX_TERM_CHARS = 64;
/** How many of the user's newest inputs a query without words (".", "?") is matched against as text. */
const TEXT_MATCH_WINDOW = 1000;

export interface SearchMatch {
  id: string;
  seq: number;
  user_id: string;
  conversation_id: string | null;
  /** The input's first `maxChars` characters: what was ranked, and all that is sent back. */
  content: string;
  /** The whole input's size in bytes (UTF-8): read without fetching the content. */
  content_bytes: number;
  truncated: boolean;
  metadata: Record<string, unknown>;
  timestamp: string;
  /** `ts_rank` (normalised by length) of the query over `content`; 0 for a text match. */
  rank: number;
}

/**
 * The query's distinct words (letters, marks and digits; two characters or more, as cognition's
 * ranking counts them), lower-cased, at most MAX_SEARCH_TERMS. Only such words reach `to_tsquery`,
 * so no input can carry its syntax (`& | ! ( ) : *`) into the query.
 */
export function searchTerms(query: string): string[] {
  const words = query
    .toLowerCase()
    .split(/[^\p{L}\p{M}\p{N}]+/u)
    .filter((w) => w.length > 1)
    .map((w) => w.slice(0, MAX_TERM_CHARS));
  return [...new Set(words)].slice(0, MAX_SEARCH_TERMS);
}

/** Each word's tsquery: a word of three letters or more also matches as a prefix ("deploy" finds "deployment"). */
function termQueries(terms: string[]): string[] {
  return terms.map((t) => (t.length >= 3 ? `${t}:*` : t));
}

/** Any word matches (`|`). */
export function toTsquery(terms: string[]): string {
  return termQueries(terms).join(' | ');
}

/** BY_WORDS' parameters, in order. */
export function byWordsParams(
  userId: string,
  terms: string[],
  options: { limit: number; maxChars: number },
  bounds: SearchBounds,
): unknown[] {
  return [
    userId,
    termQueries(terms),
    bounds.candidates,
    bounds.sampleRows,
    bounds.sampleBytes,
    bounds.byteCost,
    bounds.windowRows,
    bounds.windowBytes,
    bounds.ginWords,
    bounds.ginBudgetMs,
    bounds.probes,
    bounds.probeRows,
    bounds.probeChars,
    options.maxChars,
    options.limit,
  ];
}

const TIMESTAMP = `to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Migrations 005 and 007: the GIN index only for the query's rarer words, one at a time within a time
// budget, the common ones by the user's newest inputs, so the cost grows neither with the matches of
// its commonest word nor with its number of words. $2: one tsquery per word.
const BY_WORDS = `SELECT * FROM memory_search_inputs_v2($1, $2::text[], $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`;

// A query with no word is matched as text within the user's newest inputs (the history index).
const BY_TEXT = `
  SELECT id, seq, user_id, conversation_id, substr(content, 1, $4) AS content, octet_length(content) AS content_bytes,
         octet_length(content) > octet_length(substr(content, 1, $4)) AS truncated, metadata, ${TIMESTAMP} AS "timestamp", 0::float8 AS rank
    FROM (SELECT * FROM inputs WHERE user_id = $1 ORDER BY "timestamp" DESC, seq DESC LIMIT $3) newest
   WHERE strpos(lower(substr(content, 1, $4)), lower($2)) > 0
   ORDER BY "timestamp" DESC, seq DESC
   LIMIT $5`;

export const SEARCH_SQL = { byWords: BY_WORDS, byText: BY_TEXT };

/** The search transaction's own settings ($1: the statement timeout in ms); see withSearchSettings. */
export const SEARCH_SETTINGS_SQL = `SELECT set_config('statement_timeout', $1, true), set_config('enable_seqscan', 'off', true),
  set_config('max_parallel_workers_per_gather', '0', true)`;

/**
 * Runs `fn` in a transaction under the search's own settings: its statement timeout, and no
 * sequential scan. A small table (a few pages, but each row's content kept out of line) looks
 * cheaper to scan than to look up, and a scan computes `to_tsvector` of every content in full
 * (2 s for 60 inputs of 99 KB); the GIN index is never slower than that by much. And no parallel
 * workers: starting them cost 30 ms on a 2-core machine for a search that takes 4 ms without.
 */
async function withSearchSettings<T>(
  db: Database,
  bounds: SearchBounds,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(SEARCH_SETTINGS_SQL, [String(bounds.timeoutMs)]);
    return fn(tx);
  });
}

/**
 * The user's inputs that match `query`, best ranked first, read in one transaction under its own
 * statement timeout. Never another user's rows: the user is in every statement's WHERE.
 */
export async function searchInputs(
  db: Database,
  userId: string,
  query: string,
  options: { limit: number; maxChars: number },
  bounds: SearchBounds = DEFAULT_SEARCH_BOUNDS,
): Promise<SearchMatch[]> {
  const terms = searchTerms(query);
  const text = query.trim();
  if (terms.length === 0 && text.length === 0) return [];
  const rows = await withSearchSettings(db, bounds, async (tx) => {
    const r =
      terms.length > 0
        ? await tx.query<SearchMatch>(BY_WORDS, byWordsParams(userId, terms, options, bounds))
        : await tx.query<SearchMatch>(BY_TEXT, [
            userId,
            text,
            TEXT_MATCH_WINDOW,
            options.maxChars,
            options.limit,
          ]);
    return r.rows;
  });
  return rows.map((r) => ({
    ...r,
    seq: Number(r.seq),
    content_bytes: Number(r.content_bytes),
    rank: Number(r.rank),
  }));
}
