-- Search whose cost does not grow with the matches of its commonest word (issue 13). A GIN bitmap scan
-- collects every row matching any query word before it returns one, whatever the LIMIT: 40-250 ms for a
-- word in 40-100% of a million inputs. So a search first counts each query word in a sample of the user's
-- newest inputs, asks the GIN index only for the rarer words, and answers the commoner ones by a scan of
-- the user's newest inputs, newest first, that stops at enough matches. Only a function: no table or
-- index changes, so this migration is instant on any table.
--
-- One user's inputs matching any of `p_terms` (each a tsquery of one word, e.g. 'deploy:*'), ranked by
-- ts_rank over their first `p_max_chars` characters, best first, at most `p_limit`.
--   1. Sample: the user's newest inputs, at most `p_sample_rows` and `p_sample_bytes` of content (each
--      one's tsvector is computed: that is the cost). If that is the user's whole history, its matches
--      are all the matches, and they are the candidates.
--   2. Which words are rare: the k rarest (ascending by matches in the sample) for the k whose estimated
--      cost is least. A word's GIN cost is the matches its scan collects, estimated as its share of the
--      sample times the table's rows (its posting list holds every user's); the common words' cost is the
--      inputs their newest-first scan reads to find 4 × `p_limit` matches, at their summed share of the
--      sample (≤ `p_window_rows`), each `p_row_cost` times a GIN match (computing its tsvector). Words
--      without a match in the sample are always rare. The rare words' first `p_candidates` GIN matches
--      are candidates.
--   3. Common words (the others): their newest 4 × `p_limit` matches (at most `p_candidates`), scanning
--      at most `p_window_rows` newest inputs and `p_window_bytes` of their content, newest first.
--   If 2 and 3 found fewer than `p_limit` inputs, every word goes to the GIN index (so a query never
--   answers short because its words looked common); their summed matches in the window were then few.
-- The newest-first statements run with bitmap scans off (set here, transaction-local, as migration 003's
-- functions do with their SET clauses): their only plan is then the history index in order, stopping at
-- the limit, with or without statistics. The GIN statement needs bitmap scans, so they are on again for
-- it. The GIN statement and the fetch by seq filter on `user_id COLLATE "C"`: the same equality, but no
-- btree index serves it, so the planner cannot AND in (or scan) all of the user's rows.
CREATE OR REPLACE FUNCTION memory_search_inputs(
  p_user text, p_terms text[], p_candidates integer,
  p_sample_rows integer, p_sample_bytes integer, p_row_cost float8,
  p_window_rows integer, p_window_bytes integer,
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
  rq tsquery;
BEGIN
  PERFORM set_config('enable_bitmapscan', 'off', true);
  -- (In no particular order: every sampled match is a candidate, and counts need none.)
  SELECT coalesce(array_agg(s.v) FILTER (WHERE NOT s.cut), '{}'),
         coalesce(array_agg(s.seq) FILTER (WHERE s.v @@ q), '{}'),
         count(*) FILTER (WHERE NOT s.cut), coalesce(bool_or(s.cut), false)
    INTO vs, sampled, sample_rows, sample_cut
    FROM (SELECT r.seq, r.cut, CASE WHEN NOT r.cut THEN to_tsvector('simple'::regconfig, r.content) END AS v
            FROM (SELECT i.seq, i.content, sum(octet_length(i.content)) OVER w > p_sample_bytes AS cut
                    FROM inputs i WHERE i.user_id = p_user
                  WINDOW w AS (ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC ROWS UNBOUNDED PRECEDING)
                   ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC LIMIT p_sample_rows) r) s;
  IF sample_rows < p_sample_rows AND NOT sample_cut THEN
    -- The sample is the user's whole history: its matches are all the matches.
    rare := '{}';
    newest := sampled;
  ELSIF sample_rows > 0 THEN
    SELECT array_agg(t.term ORDER BY t.hits, t.n), array_agg(t.hits ORDER BY t.hits, t.n) INTO ordered, hits
      FROM (SELECT u.term, u.n, (SELECT count(*) FROM unnest(vs) v WHERE v @@ x.tq) AS hits
              FROM unnest(p_terms) WITH ORDINALITY AS u(term, n),
                   LATERAL (SELECT to_tsquery('simple'::regconfig, u.term) AS tq) x) t;
    -- The table's size, which the GIN scan's cost follows (its posting lists hold every user's rows).
    table_rows := greatest(coalesce((SELECT max(i.seq) FROM inputs i) - (SELECT min(i.seq) FROM inputs i), 0), 1);
    total := (SELECT sum(h) FROM unnest(hits) h);
    -- k = how many of the rarest words go to the GIN index; words without a match in the sample always do.
    k := (SELECT count(*) FROM unnest(hits) h WHERE h = 0);
    best_k := k;
    rare_hits := 0;
    LOOP
      common_hits := total - rare_hits;
      cost := rare_hits::float8 / sample_rows * table_rows
            + CASE WHEN common_hits > 0
                   THEN p_row_cost * least(p_window_rows, 4.0 * p_limit * sample_rows / common_hits) ELSE 0 END;
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
  END IF;
  PERFORM set_config('enable_bitmapscan', 'on', true);
  IF cardinality(rare) > 0 THEN
    rq := to_tsquery('simple'::regconfig, array_to_string(rare, ' | '));
    SELECT coalesce(array_agg(g.seq), '{}') INTO found
      FROM (SELECT i.seq FROM inputs i
             WHERE to_tsvector('simple'::regconfig, i.content) @@ rq
               AND i.user_id COLLATE "C" = p_user
             LIMIT p_candidates) g;
  END IF;
  IF cardinality(common) > 0 AND cardinality(newest) + cardinality(found) < p_limit THEN
    -- Added to the rare words' matches: this scan's first finds need not include them.
    SELECT found || coalesce(array_agg(g.seq), '{}') INTO found
      FROM (SELECT i.seq FROM inputs i
             WHERE to_tsvector('simple'::regconfig, i.content) @@ q
               AND i.user_id COLLATE "C" = p_user
             LIMIT p_candidates) g;
  END IF;
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
