-- Reads whose plan cannot depend on statistics or table size (issue 13). Without fresh statistics
-- (autovacuum lagging, or off) the planner guesses selectivities: the feed became a parallel seq scan
-- plus a sort of the whole table, and per-user reads a bitmap scan plus a sort of all the user's rows.
-- Each read is a function whose planner settings are local to it (a function's SET clause applies
-- while it runs and plans): no seq scan, no bitmap scan, so the only plan left is a scan of the index
-- whose order is the read's order, stopping at the limit. These settings reach no other statement
-- (search's GIN reads need bitmap scans). PL/pgSQL rather than SQL: it keeps each read's plan per
-- connection instead of planning it again on every call (a third of the feed read's time).

-- The indexes now end in seq, the tiebreak of every ordered read, so no read sorts.
CREATE INDEX IF NOT EXISTS inputs_user_time_seq ON inputs (user_id, "timestamp" DESC, seq DESC);
DROP INDEX IF EXISTS inputs_user_time;
-- Only inputs in a conversation are ever read by conversation: the others cost this index nothing.
CREATE INDEX IF NOT EXISTS inputs_conversation_time_seq ON inputs (conversation_id, "timestamp", seq)
  WHERE conversation_id IS NOT NULL;
DROP INDEX IF EXISTS inputs_conversation;

-- Every user's events after a seq, in seq order: the newest `p_limit` of each table by its seq
-- index, merged. Each branch has its own ORDER BY and LIMIT, so neither can become a full scan.
CREATE OR REPLACE FUNCTION memory_events_after(p_after bigint, p_limit integer)
RETURNS TABLE (seq bigint, type text, user_id text, payload text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.seq, e.type, e.user_id, e.payload FROM (
    (SELECT i.seq, 'input'::text AS type, i.user_id,
            json_build_object('id', i.id, 'conversation_id', i.conversation_id, 'content', i.content,
              'metadata', i.metadata,
              'timestamp', to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS payload
       FROM inputs i WHERE i.seq > p_after ORDER BY i.seq LIMIT p_limit)
    UNION ALL
    (SELECT f.seq, 'task_failed'::text, f.user_id,
            json_build_object('id', f.id, 'task', f.task, 'error', f.error, 'backends_tried', f.backends_tried,
              'duration_ms', f.duration_ms,
              'timestamp', to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
       FROM failed_tasks f WHERE f.seq > p_after ORDER BY f.seq LIMIT p_limit)
  ) e ORDER BY e.seq LIMIT p_limit
  ;
END
$$;

-- One user's events after a seq, by the (user_id, seq) indexes.
CREATE OR REPLACE FUNCTION memory_user_events_after(p_user text, p_after bigint, p_limit integer)
RETURNS TABLE (seq bigint, type text, user_id text, payload text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.seq, e.type, e.user_id, e.payload FROM (
    (SELECT i.seq, 'input'::text AS type, i.user_id,
            json_build_object('id', i.id, 'conversation_id', i.conversation_id, 'content', i.content,
              'metadata', i.metadata,
              'timestamp', to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS payload
       FROM inputs i WHERE i.user_id = p_user AND i.seq > p_after ORDER BY i.user_id, i.seq LIMIT p_limit)
    UNION ALL
    (SELECT f.seq, 'task_failed'::text, f.user_id,
            json_build_object('id', f.id, 'task', f.task, 'error', f.error, 'backends_tried', f.backends_tried,
              'duration_ms', f.duration_ms,
              'timestamp', to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
       FROM failed_tasks f WHERE f.user_id = p_user AND f.seq > p_after ORDER BY f.user_id, f.seq LIMIT p_limit)
  ) e ORDER BY e.seq LIMIT p_limit
  ;
END
$$;

-- A user's newest inputs, newest first.
CREATE OR REPLACE FUNCTION memory_history(p_user text, p_limit integer)
RETURNS TABLE (id text, seq bigint, user_id text, conversation_id text, content text, metadata jsonb, "timestamp" text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT i.id, i.seq, i.user_id, i.conversation_id, i.content, i.metadata,
         to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM inputs i WHERE i.user_id = p_user
   ORDER BY i.user_id, i."timestamp" DESC, i.seq DESC LIMIT p_limit
  ;
END
$$;

-- A conversation's newest messages (optionally one user's), newest first.
CREATE OR REPLACE FUNCTION memory_conversation(p_conversation text, p_user text, p_limit integer)
RETURNS TABLE (id text, seq bigint, user_id text, conversation_id text, content text, metadata jsonb, "timestamp" text)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT i.id, i.seq, i.user_id, i.conversation_id, i.content, i.metadata,
         to_char(i."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM inputs i WHERE i.conversation_id = p_conversation AND (p_user IS NULL OR i.user_id = p_user)
   ORDER BY i.conversation_id, i."timestamp" DESC, i.seq DESC LIMIT p_limit
  ;
END
$$;
