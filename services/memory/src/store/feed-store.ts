import type { Queryable } from '../db/database';

export interface FeedEvent {
  seq: number;
  type: 'input' | 'task_failed';
  user_id: string;
  payload: Record<string, unknown>;
}

const TS = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The resumable feed: every event table, merged in `seq` order. Seqs are commit-ordered (see
 * event-order.ts), so "after N" is a complete answer whenever it is asked.
 */
export async function eventsAfter(
  db: Queryable,
  afterSeq: number,
  userId: string | undefined,
  limit: number,
) {
  const r = await db.query<FeedEvent>(
    `SELECT seq, 'input' AS type, user_id,
            jsonb_build_object('id', id, 'conversation_id', conversation_id, 'content', content,
                               'metadata', metadata, 'timestamp', ${TS('"timestamp"')}) AS payload
       FROM inputs WHERE seq > $1 AND ($2::text IS NULL OR user_id = $2)
     UNION ALL
     SELECT seq, 'task_failed' AS type, user_id,
            jsonb_build_object('id', id, 'task', task, 'error', error, 'backends_tried', backends_tried,
                               'duration_ms', duration_ms, 'timestamp', ${TS('created_at')}) AS payload
       FROM failed_tasks WHERE seq > $1 AND ($2::text IS NULL OR user_id = $2)
     ORDER BY seq ASC LIMIT $3`,
    [afterSeq, userId ?? null, limit],
  );
  return r.rows;
}

/** The newest committed seq: where a subscriber that wants no backlog starts. */
export async function headSeq(db: Queryable): Promise<number> {
  const r = await db.query<{ head: number | null }>(
    'SELECT GREATEST((SELECT max(seq) FROM inputs), (SELECT max(seq) FROM failed_tasks), 0)::bigint AS head',
  );
  return Number(r.rows[0]?.head ?? 0);
}
