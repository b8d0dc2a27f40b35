-- Search whose cost is bounded whatever its words and wherever in the history they are (issue 13).
-- Two changes to migration 005's plan:
-- 1. The rare words go to the GIN index one at a time, within a time budget. 005 asked for all of them in
--    one OR: a bitmap scan that collects every match of every such word before it returns a row, at a
--    cost per match that grows with the number of words (GIN advances each word's posting list for every
--    match: 32-41 ms for 24 words of 0.1-1.2% each over a million inputs). Here each word is looked up
--    alone, rarest first, for its share of the candidates still missing, among inputs not found yet (so a
--    word the user never wrote leaves its share to the next, and words found together in the same inputs
--    do not fill the candidates with copies). The first `p_gin_words` words are always looked up; the
--    others only until the statement has run for `p_gin_budget_ms`: the cost is those words, the budget
--    and at most one more word's lookup, whatever the number of words (each lookup still costs its word's
--    whole posting list, every user's rows: the budget bounds their number, not each one). Words not
--    looked up still count in the ranking. Rarest first: by matches in the sample, then longer words first (in every language
--    longer words are rarer on average: the only hint left among words the sample never saw).
-- 2. Words the user wrote often long ago but not lately. 005's sample holds only the newest inputs, so
--    such a word looked rare and went to the GIN index at its full cost (every match collected: 0.3 ms
--    per thousand, a second at a few million). Now `p_probes` probes of `p_probe_rows` inputs each,
--    spread evenly over the user's history by seq (the user_seq index), count the words too. A word seen
--    in at least two distinct probed inputs but not in the newest sample is common somewhere in the past:
--    its matches are collected by a scan of the user's inputs from the newest probed input that holds it,
--    older first by seq, bounded like the newest-first scan (the probed input itself always, however
--    large). Its index lookup comes last, only when everything found too few, within the budget: the cost
--    it avoids. Each probed input counts once: probes that fall in a gap of the user's seqs (other users'
--    rows) find the same inputs.
-- Also: each word is counted in the sample once (005's plan held two copies of that subquery).
-- A new function, not a new version of 005's: instances of the previous release call that one with its
-- own arguments until they are replaced (a rolling deploy), so it stays.
-- Otherwise as 005: the cost model that splits rare from common words among those the newest sample saw,
-- the newest-first scan for the common ones, the index for everything when too few are found (now within
-- the budget too), and the final fetch by seq.
CREATE OR REPLACE FUNCTION memory_search_inputs_v2(
  p_user text, p_terms text[], p_candidates integer,
  p_sample_rows integer, p_sample_bytes integer, p_byte_cost float8,
  p_window_rows integer, p_window_bytes integer, p_gin_words integer, p_gin_budget_ms float8,
  p_probes integer, p_probe_rows integer, p_probe_chars integer,
  p_max_chars integer, p_limit integer
)
RETURNS TABLE (id text, seq bigint, user_id text, conversation_id text, content text, content_bytes integer,
               truncated boolean, metadata jsonb, "timestamp" text, rank float8)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
  q tsquery := to_tsquery('simple'::regconfig, array_to_string(p_terms, ' | '));
  vs tsvector[];
  sampled bigint[];
  sample_rows integer;
  sample_cut boolean;
  sample_bytes bigint;
  row_bytes float8;
  rare text[] := p_terms;
  common text[] := '{}';
  newest bigint[] := '{}';
  found bigint[] := '{}';
  ordered text[];
  hits bigint[];
  table_rows bigint;
  total bigint;
  k integer;
  best_k integer;
  rare_hits bigint;
  common_hits bigint;
  cost float8;
  best float8;
  cq tsquery;
  pq tsquery;
  rq tsquery;
  lookups text[];
  seen bigint[];
  quota integer;
  lo bigint;
  hi bigint;
  pvs tsvector[] := '{}';
  pseqs bigint[] := '{}';
  anchors bigint[];
  probe_hits bigint[];
  past text[] := '{}';
  past_at bigint[] := '{}';
  past_rows integer;
  gin_until timestamptz;
BEGIN
  -- The budget counts from the statement's start: the sample, probes and scans spend it too.
  gin_until := clock_timestamp() + p_gin_budget_ms * interval '1 millisecond';
  PERFORM set_config('enable_bitmapscan', 'off', true);
  -- (In no particular order: every sampled match is a candidate, and counts need none.)
  SELECT coalesce(array_agg(s.v) FILTER (WHERE NOT s.cut), '{}'),
         coalesce(array_agg(s.seq) FILTER (WHERE s.v @@ q), '{}'),
         count(*) FILTER (WHERE NOT s.cut), coalesce(bool_or(s.cut), false),
         coalesce(sum(s.bytes) FILTER (WHERE NOT s.cut), 0)
    INTO vs, sampled, sample_rows, sample_cut, sample_bytes
    FROM (SELECT r.seq, r.cut, octet_length(r.content) AS bytes,
                 CASE WHEN NOT r.cut THEN to_tsvector('simple'::regconfig, r.content) END AS v
            FROM (SELECT i.seq, i.content, sum(octet_length(i.content)) OVER w > p_sample_bytes AS cut
                    FROM inputs i WHERE i.user_id = p_user
                  WINDOW w AS (ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC ROWS UNBOUNDED PRECEDING)
                   ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC LIMIT p_sample_rows) r) s;
  IF sample_rows < p_sample_rows AND NOT sample_cut THEN
    -- The sample is the user's whole history: its matches are all the matches.
    rare := '{}';
    newest := sampled;
  ELSIF sample_rows > 0 THEN
    -- The probes: `p_probes` points spread over the user's seq range, the `p_probe_rows` inputs at or
    -- just below each, only their first `p_probe_chars` characters (the probes' cost is bounded). The
    -- user's range is given as two row comparisons, which only the user_seq index serves, and from
    -- which it starts at the probe's seq: with `user_id = p_user AND seq <= x` the planner walked the
    -- seq index down filtering on the user (statistics saying the user was common), and with
    -- `user_id = p_user AND (user_id, seq) <= (p_user, x)` the btree started at the user's newest.
    -- The user's first and last seq, by the same row comparisons (seq starts at 1): with
    -- `user_id = p_user ORDER BY seq` the planner may walk the seq index filtering on the user.
    lo := (SELECT f.seq FROM (SELECT i.user_id, i.seq FROM inputs i WHERE (i.user_id, i.seq) >= (p_user, 0)
                               ORDER BY i.user_id, i.seq LIMIT 1) f WHERE f.user_id = p_user);
    hi := (SELECT l.seq FROM (SELECT i.user_id, i.seq FROM inputs i WHERE (i.user_id, i.seq) <= (p_user, 9223372036854775807)
                               ORDER BY i.user_id DESC, i.seq DESC LIMIT 1) l WHERE l.user_id = p_user);
    SELECT coalesce(array_agg(to_tsvector('simple'::regconfig, left(p.content, p_probe_chars))), '{}'),
           coalesce(array_agg(p.seq), '{}')
      INTO pvs, pseqs
      FROM generate_series(0, p_probes - 1) j,
           LATERAL (SELECT i.seq, i.content FROM inputs i
                     WHERE (i.user_id, i.seq) <= (p_user, lo + (hi - lo) * j / p_probes) AND (i.user_id, i.seq) >= (p_user, lo)
                     ORDER BY i.user_id DESC, i.seq DESC LIMIT p_probe_rows) p;
    -- Each word counted once, in the sample and in the probes (OFFSET 0 keeps the counts in one
    -- subquery, not one copy per output column).
    SELECT array_agg(t.term ORDER BY t.hits, length(rtrim(t.term, ':*')) DESC, t.n), array_agg(t.hits ORDER BY t.hits, length(rtrim(t.term, ':*')) DESC, t.n),
           array_agg(t.probed ORDER BY t.hits, length(rtrim(t.term, ':*')) DESC, t.n), array_agg(t.anchor ORDER BY t.hits, length(rtrim(t.term, ':*')) DESC, t.n)
      INTO ordered, hits, probe_hits, anchors
      FROM (SELECT u.term, u.n, h.hits, pr.probed, pr.anchor
              FROM unnest(p_terms) WITH ORDINALITY AS u(term, n),
                   LATERAL (SELECT to_tsquery('simple'::regconfig, u.term) AS tq) x,
                   LATERAL (SELECT count(*) AS hits FROM unnest(vs) v WHERE v @@ x.tq) h,
                   -- Only a word the newest sample never saw can be common in the past.
                   -- Distinct inputs: probes falling in a gap of the user's seqs find the same ones.
                   LATERAL (SELECT count(DISTINCT pp.s) AS probed, max(pp.s) AS anchor
                              FROM unnest(pvs, pseqs) AS pp(v, s) WHERE h.hits = 0 AND pp.v @@ x.tq) pr
            OFFSET 0) t;
    -- Words the newest sample never saw but two probed inputs did are common in the past: set apart,
    -- the newest of them first.
    SELECT coalesce(array_agg(ordered[x.w] ORDER BY x.w) FILTER (WHERE NOT x.past), '{}'),
           coalesce(array_agg(hits[x.w] ORDER BY x.w) FILTER (WHERE NOT x.past), '{}'),
           coalesce(array_agg(ordered[x.w] ORDER BY anchors[x.w] DESC) FILTER (WHERE x.past), '{}'),
           coalesce(array_agg(anchors[x.w] ORDER BY anchors[x.w] DESC) FILTER (WHERE x.past), '{}')
      INTO ordered, hits, past, past_at
      FROM (SELECT g.w, hits[g.w] = 0 AND probe_hits[g.w] >= 2 AS past FROM generate_subscripts(ordered, 1) AS g(w)) x;
    -- The table's size, which the GIN scan's cost follows (its posting lists hold every user's rows).
    table_rows := greatest(coalesce((SELECT max(i.seq) FROM inputs i) - (SELECT min(i.seq) FROM inputs i), 0), 1);
    total := coalesce((SELECT sum(h) FROM unnest(hits) h), 0);
    -- k = how many of the rarest words go to the GIN index; words without a match in the sample always do.
    k := (SELECT count(*) FROM unnest(hits) h WHERE h = 0);
    best_k := k;
    rare_hits := 0;
    row_bytes := greatest(sample_bytes::float8 / sample_rows, 1);
    LOOP
      common_hits := total - rare_hits;
      cost := rare_hits::float8 / sample_rows * table_rows
            + CASE WHEN common_hits > 0
                   THEN p_byte_cost * least(p_window_bytes, row_bytes * least(p_window_rows, 4.0 * p_limit * sample_rows / common_hits))
                   ELSE 0 END;
      IF best IS NULL OR cost < best THEN best := cost; best_k := k; END IF;
      EXIT WHEN k >= cardinality(ordered);
      k := k + 1;
      rare_hits := rare_hits + hits[k];
    END LOOP;
    rare := coalesce(ordered[1:best_k], '{}');
    common := coalesce(ordered[best_k + 1:], '{}');
    IF cardinality(common) > 0 THEN
      cq := to_tsquery('simple'::regconfig, array_to_string(common, ' | '));
      SELECT coalesce(array_agg(c.seq), '{}') INTO newest
        FROM (SELECT w.seq
                FROM (SELECT i.seq, i.content, sum(octet_length(i.content)) OVER w AS run
                        FROM inputs i WHERE i.user_id = p_user
                      WINDOW w AS (ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC ROWS UNBOUNDED PRECEDING)
                       ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC LIMIT p_window_rows) w
               WHERE w.run <= p_window_bytes
                 AND to_tsvector('simple'::regconfig, w.content) @@ cq
               LIMIT least(p_candidates, 4 * p_limit)) c;
    END IF;
    -- Each past word: its matches older than the newest probed input holding it, by seq (user_seq
    -- index), the window's rows and bytes shared among them.
    past_rows := greatest(p_window_rows / greatest(cardinality(past), 1), 1);
    FOR k IN 1..cardinality(past) LOOP
      pq := to_tsquery('simple'::regconfig, past[k]);
      SELECT found || coalesce(array_agg(c.seq), '{}') INTO found
        FROM (SELECT w.seq
                FROM (SELECT i.seq, i.content, sum(octet_length(i.content)) OVER w - octet_length(i.content) AS before
                        FROM inputs i WHERE (i.user_id, i.seq) <= (p_user, past_at[k]) AND (i.user_id, i.seq) >= (p_user, lo)
                      WINDOW w AS (ORDER BY i.user_id DESC, i.seq DESC ROWS UNBOUNDED PRECEDING)
                       ORDER BY i.user_id DESC, i.seq DESC LIMIT past_rows) w
               -- The probed input itself always (it holds the word), however large.
               WHERE w.before < p_window_bytes / cardinality(past)
                 AND to_tsvector('simple'::regconfig, w.content) @@ pq AND w.seq <> ALL (found)
               LIMIT least(p_candidates, 4 * p_limit) / cardinality(past) + 1) c;
    END LOOP;
  END IF;
  PERFORM set_config('enable_bitmapscan', 'on', true);
  -- The common words and the past ones (last: their lookup is the cost their scan avoids) only when
  -- the rest found too few, so a query never answers short because its words looked common.
  lookups := rare || common || past;
  FOR k IN 1..cardinality(lookups) LOOP
    EXIT WHEN k > cardinality(rare)
          AND cardinality(ARRAY(SELECT DISTINCT s FROM unnest(newest || found) s)) >= p_limit;
    -- The first `p_gin_words` words are always looked up (so a short query's answer does not depend
    -- on the machine's load): the budget bounds the others.
    EXIT WHEN cardinality(found) >= p_candidates OR (k > p_gin_words AND clock_timestamp() >= gin_until);
    quota := ceil((p_candidates - cardinality(found))::float8
                  / (CASE WHEN k <= cardinality(rare) THEN cardinality(rare) ELSE cardinality(lookups) END - k + 1));
    rq := to_tsquery('simple'::regconfig, lookups[k]);
    seen := newest || found;
    -- Inputs not found yet: each word's first matches in table order are often the previous words'.
    SELECT found || coalesce(array_agg(g.seq), '{}') INTO found
      FROM (SELECT i.seq FROM inputs i
             WHERE to_tsvector('simple'::regconfig, i.content) @@ rq
               AND i.user_id COLLATE "C" = p_user AND i.seq <> ALL (seen)
             LIMIT quota) g;
  END LOOP;
  RETURN QUERY
  SELECT c.id, c.seq, c.user_id, c.conversation_id, c.head, c.content_bytes, c.content_bytes > octet_length(c.head),
         c.metadata, to_char(c."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         ts_rank(to_tsvector('simple'::regconfig, c.head), q, 1)::float8 AS rank
    FROM (SELECT i.id, i.seq, i.user_id, i.conversation_id, substr(i.content, 1, p_max_chars) AS head,
                 octet_length(i.content) AS content_bytes, i.metadata, i."timestamp"
            FROM inputs i
           WHERE i.seq = ANY (newest || found) AND i.user_id COLLATE "C" = p_user) c
   ORDER BY rank DESC, c."timestamp" DESC, c.seq DESC
   LIMIT p_limit
  ;
END
$$;
