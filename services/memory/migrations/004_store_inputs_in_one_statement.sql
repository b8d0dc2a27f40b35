-- A batch of inputs stored in one statement (one round trip, an implicit transaction) instead of
-- BEGIN, lock, INSERT, NOTIFY, COMMIT: five round trips, during most of which the event writers'
-- lock was held while every other writer waited on it. The order of work is the same as before:
-- take the lock (its key and the channel come from event-order.ts), draw seqs by inserting, notify
-- the newest seq; the lock is released, and the notification sent, at commit. Ids already stored
-- (an idempotent retry) come back with what the first store kept and `fresh` false.
CREATE OR REPLACE FUNCTION memory_store_inputs(
  p_lock bigint, p_channel text,
  p_ids text[], p_users text[], p_conversations text[], p_contents text[], p_metadata jsonb[],
  p_times timestamptz[]
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
  -- Set-based throughout (no per-row PL/pgSQL work while the lock is held).
  WITH ins AS (
    INSERT INTO inputs AS t (id, user_id, conversation_id, content, metadata, "timestamp")
    SELECT * FROM unnest(p_ids, p_users, p_conversations, p_contents, p_metadata, p_times)
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
