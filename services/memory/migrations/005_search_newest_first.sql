-- Search whose cost does not grow with the matches of its commonest word (issue 13). A GIN bitmap scan
-- collects every row matching any query word before it returns one, whatever the LIMIT: 30-250 ms for a
-- word in 40-100% of a million inputs. So a search first reads the user's newest inputs (a bounded,
-- index-ordered window), counts each word's matches there, and asks the GIN index only for the rarer
-- words; the commoner ones are answered by their newest matches in the window. Only functions: no table
-- or index changes, so this migration is instant on any table.

-- The user's newest inputs, newest first, at most `p_rows` of them and as many as fit in `p_bytes` of
-- content: each such row comes with the tsvector of its whole content (the GIN index's expression), the
-- first one past the byte budget with `v` NULL and `cut` true, so the caller knows the window stopped
-- short. Content sizes are read from the toast header, so rows past the budget cost no tokenizing. Its
-- planner settings are local to it (as the reads of migration 003): no seq or bitmap scan, so the only
-- plan is the history index in its order, stopping at the limit, with or without statistics.
CREATE OR REPLACE FUNCTION memory_search_window(p_user text, p_rows integer, p_bytes integer)
RETURNS TABLE (seq bigint, v tsvector, cut boolean)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT w.seq, CASE WHEN w.run <= p_bytes THEN to_tsvector('simple'::regconfig, w.content) END, w.run > p_bytes
    FROM (SELECT i.seq, i.content,
                 sum(octet_length(i.content)) OVER (ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC ROWS UNBOUNDED PRECEDING) AS run
            FROM inputs i WHERE i.user_id = p_user
           ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC LIMIT p_rows) w
   WHERE w.run - octet_length(w.content) <= p_bytes
  ;
END
$$;

-- One user's inputs matching any of `p_terms` (each a tsquery of one word, e.g. 'deploy:*'), ranked by
-- ts_rank over their first `p_max_chars` characters, best first, at most `p_limit`. Candidates ranked:
-- the window's matches (newest first, at most `p_candidates`) and at most `p_candidates` GIN matches of
-- the rarer words. Which words are rare: ascending by matches in the window's newest `p_sample_rows`, as
-- many as keep their summed matches within `p_rare_share` of those rows; the GIN scan's cost is then about
-- that share of the user's history, not the commonest word's (each word costs a check of every sampled
-- row, so the sample is smaller than the window). Every word goes to the GIN index when the window alone holds
-- fewer than `p_limit` matches (so a rare query never answers short), and none when the window is the
-- user's whole history (it is then exact). Runs inside the search's own transaction (its
-- statement_timeout, no seq scan); the GIN statement needs bitmap scans, so nothing is SET here.
CREATE OR REPLACE FUNCTION memory_search_inputs(
  p_user text, p_terms text[], p_candidates integer, p_window_rows integer, p_window_bytes integer,
  p_sample_rows integer, p_rare_share float8, p_max_chars integer, p_limit integer
)
RETURNS TABLE (id text, seq bigint, user_id text, conversation_id text, content text, content_bytes integer,
               truncated boolean, metadata jsonb, "timestamp" text, rank float8)
LANGUAGE plpgsql STABLE
AS $$
#variable_conflict use_column
DECLARE
  q tsquery := to_tsquery('simple'::regconfig, array_to_string(p_terms, ' | '));
  vs tsvector[];
  newest bigint[];
  fetched integer;
  stopped boolean;
  rare text[] := p_terms;
  found bigint[] := '{}';
BEGIN
  SELECT coalesce(array_agg(w.v) FILTER (WHERE w.v IS NOT NULL), '{}'),
         coalesce(array_agg(w.seq ORDER BY w.n) FILTER (WHERE w.v @@ q), '{}'),
         count(*), coalesce(bool_or(w.cut), false)
    INTO vs, newest, fetched, stopped
    FROM memory_search_window(p_user, p_window_rows, p_window_bytes) WITH ORDINALITY AS w(seq, v, cut, n);
  IF fetched < p_window_rows AND NOT stopped THEN
    rare := '{}';  -- the window is the user's whole history: its matches are all the matches
  ELSIF cardinality(newest) >= p_limit THEN
    SELECT coalesce(array_agg(h.term), '{}') INTO rare
      FROM (SELECT t.term, sum(t.hits) OVER (ORDER BY t.hits, t.n) AS running
              FROM (SELECT u.term, u.n, (SELECT count(*) FROM unnest(vs[1:p_sample_rows]) v WHERE v @@ x.tq) AS hits
                      FROM unnest(p_terms) WITH ORDINALITY AS u(term, n),
                           LATERAL (SELECT to_tsquery('simple'::regconfig, u.term) AS tq) x) t) h
     WHERE h.running <= p_rare_share * least(cardinality(vs), p_sample_rows);
  END IF;
  IF cardinality(rare) > 0 THEN
    -- `user_id COLLATE "C"`: the same equality, but no btree index serves it, so the planner cannot
    -- AND in a bitmap of all the user's rows (see 003_input_search.sql and search-store.ts).
    SELECT coalesce(array_agg(g.seq), '{}') INTO found
      FROM (SELECT i.seq FROM inputs i
             WHERE to_tsvector('simple'::regconfig, i.content) @@ to_tsquery('simple'::regconfig, array_to_string(rare, ' | '))
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
           -- By seq alone (COLLATE "C" again): a user's bitmap would read all of that user's rows.
           WHERE i.seq = ANY (newest[1:p_candidates] || found) AND i.user_id COLLATE "C" = p_user) c
   ORDER BY rank DESC, c."timestamp" DESC, c.seq DESC
   LIMIT p_limit
  ;
END
$$;
