import type { Queryable } from '../db/database';

export interface FeedEvent {
  seq: number;
  type: 'input' | 'task_failed';
  user_id: string;
  /** The event's own fields as one JSON object, as PostgreSQL wrote it: framed without a re-parse. */
  payload: string;
  /** The W3C traceparent of the span that stored the event (inputs stored with tracing on), else null. */
  traceparent: string | null;
}

/**
 * The resumable feed: every event table, merged in `seq` order. Seqs are commit-ordered (see
 * event-order.ts), so "after N" is a complete answer whenever it is asked. The reads are functions
 * of migrations 003 and 006 whose plans are index range scans whatever the statistics say.
 */
export async function eventsAfter(
  db: Queryable,
  afterSeq: number,
  userId: string | undefined,
  limit: number,
): Promise<FeedEvent[]> {
  const r =
    userId === undefined
      ? await db.query<FeedEvent>('SELECT * FROM memory_events_after_v2($1, $2)', [afterSeq, limit])
      : await db.query<FeedEvent>('SELECT * FROM memory_user_events_after_v2($1, $2, $3)', [
          userId,
          afterSeq,
          limit,
        ]);
  for (const row of r.rows) row.seq = Number(row.seq);
  return r.rows;
}

/**
 * The newest committed seq: where a subscriber that wants no backlog starts. `max` over a btree is
 * planned as one step down its end (min/max optimisation), however stale the statistics.
 */
export async function headSeq(db: Queryable): Promise<number> {
  const r = await db.query<{ head: number | null }>(
    'SELECT GREATEST((SELECT max(seq) FROM inputs), (SELECT max(seq) FROM failed_tasks), 0)::bigint AS head',
  );
  return Number(r.rows[0]?.head ?? 0);
}
