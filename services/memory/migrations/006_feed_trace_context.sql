-- The memory feed carries trace context (issue 17): each input keeps the W3C `traceparent` of the
-- span that stored it (memory's span for the storing request, the one its group-commit batch links
-- to), and the feed hands it to the gateways, whose delivery span links to it. Null when tracing
-- was off as it was stored (and for every input stored before this migration).
--
-- A nullable column without a default: PostgreSQL only records it in the catalog (no table
-- rewrite, no scan), so this is instant on a table of any size. It still takes the table's
-- exclusive lock for that moment, so it waits behind (and briefly holds up) a long transaction on
-- `inputs`; migrations run at start, under migrate.ts's lock, one instance at a time.
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS traceparent text;

-- New names rather than CREATE OR REPLACE: the reads' result type gains a column (a function's
-- result type cannot be replaced), and the store takes one more argument (which would be a second
-- function of the same name anyway). Instances of the previous version, still running during a
-- rolling deploy, keep calling the functions of migrations 003 and 004, which are left as they
-- were and still work (they neither write nor read the new column). A later migration may drop
-- them once no instance of that version runs.

-- Migration 004's store, with each input's traceparent (`p_traceparents`, null entries for none).
CREATE OR REPLACE FUNCTION memory_store_inputs_v2(
  p_lock bigint, p_channel text,
  p_ids text[], p_users text[], p_conversations text[], p_contents text[], p_metadata jsonb[],
  p_times timestamptz[], p_traceparents text[]
)
RETURNS TABLE (id text, seq bigint, user_id text, conversation_id text, content text, metadata jsonb,
               "timestamp" text, fresh boolean)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
  stored_ids text[];
  stored_seqs bigint[];
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock);
  WITH ins AS (
    INSERT INTO inputs AS t (id, user_id, conversation_id, content, metadata, "timestamp", traceparent)
    SELECT * FROM unnest(p_ids, p_users, p_conversations, p_contents, p_metadata, p_times, p_traceparents)
    ON CONFLICT (id) DO NOTHING
    RETURNING t.id, t.seq
  )
  SELECT coalesce(array_agg(ins.id), '{}'), coalesce(array_agg(ins.seq), '{}')
    INTO stored_ids, stored_seqs FROM ins;
  IF cardinality(stored_seqs) > 0 THEN
    PERFORM pg_notify(p_channel, (SELECT max(s) FROM unnest(stored_seqs) s)::text);
  END IF;
  RETURN QUERY
    SELECT u.id, u.seq, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text, true
      FROM unnest(stored_ids, stored_seqs) AS u(id, seq);
  IF cardinality(stored_ids) < cardinality(p_ids) THEN
    RETURN QUERY
      SELECT i.id, i.seq, i.user_id, i.conversation_id, i.content, i.metadata,
             to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), false
        FROM inputs i WHERE i.id = ANY(p_ids) AND NOT (i.id = ANY(stored_ids));
  END IF;
END
$$;

-- Migration 003's feed reads, with each event's traceparent as a column of its own (not in the
-- payload: memory adds it to the event only when there is one, so an untraced feed is unchanged).
-- The same index-ordered plans: each branch by its seq index, with its own ORDER BY and LIMIT.
CREATE OR REPLACE FUNCTION memory_events_after_v2(p_after bigint, p_limit integer)
RETURNS TABLE (seq bigint, type text, user_id text, payload text, traceparent text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.seq, e.type, e.user_id, e.payload, e.traceparent FROM (
    (SELECT i.seq, 'input'::text AS type, i.user_id,
            json_build_object('id', i.id, 'conversation_id', i.conversation_id, 'content', i.content,
              'metadata', i.metadata,
              'timestamp', to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS payload,
            i.traceparent
       FROM inputs i WHERE i.seq > p_after ORDER BY i.seq LIMIT p_limit)
    UNION ALL
    (SELECT f.seq, 'task_failed'::text, f.user_id,
            json_build_object('id', f.id, 'task', f.task, 'error', f.error, 'backends_tried', f.backends_tried,
              'duration_ms', f.duration_ms,
              'timestamp', to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
            NULL::text
       FROM failed_tasks f WHERE f.seq > p_after ORDER BY f.seq LIMIT p_limit)
  ) e ORDER BY e.seq LIMIT p_limit
  ;
END
$$;

CREATE OR REPLACE FUNCTION memory_user_events_after_v2(p_user text, p_after bigint, p_limit integer)
RETURNS TABLE (seq bigint, type text, user_id text, payload text, traceparent text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.seq, e.type, e.user_id, e.payload, e.traceparent FROM (
    (SELECT i.seq, 'input'::text AS type, i.user_id,
            json_build_object('id', i.id, 'conversation_id', i.conversation_id, 'content', i.content,
              'metadata', i.metadata,
              'timestamp', to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS payload,
            i.traceparent
       FROM inputs i WHERE i.user_id = p_user AND i.seq > p_after ORDER BY i.user_id, i.seq LIMIT p_limit)
    UNION ALL
    (SELECT f.seq, 'task_failed'::text, f.user_id,
            json_build_object('id', f.id, 'task', f.task, 'error', f.error, 'backends_tried', f.backends_tried,
              'duration_ms', f.duration_ms,
              'timestamp', to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
            NULL::text
       FROM failed_tasks f WHERE f.user_id = p_user AND f.seq > p_after ORDER BY f.user_id, f.seq LIMIT p_limit)
  ) e ORDER BY e.seq LIMIT p_limit
  ;
END
$$;
