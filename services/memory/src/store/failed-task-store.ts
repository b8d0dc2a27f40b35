import type { Database, Queryable } from '../db/database';
import { EVENTS_CHANNEL, lockEventWriters } from './event-order';

export interface NewFailedTask {
  id: string;
  user_id: string;
  task: string;
  error: string;
  backends_tried: string[];
  duration_ms: number;
  details: Record<string, unknown>;
}

export interface StoredFailedTask extends NewFailedTask {
  seq: number;
  created_at: string;
}

export type RecordOutcome =
  | { status: 'recorded' | 'already_exists'; id: string; seq: number }
  | { status: 'conflict'; id: string };

const COLUMNS = `id, seq, user_id, task, error, backends_tried, duration_ms, details,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

/**
 * Records one failed task, idempotent on id. It takes the event writers' lock and draws its seq
 * from `event_seq` like inputs do, so task_failed events sit in the same commit-ordered feed.
 */
export async function insertFailedTask(db: Database, task: NewFailedTask): Promise<RecordOutcome> {
  return db.transaction(async (tx) => {
    await lockEventWriters(tx);
    const inserted = await tx.query<{ seq: number }>(
      `INSERT INTO failed_tasks (id, user_id, task, error, backends_tried, duration_ms, details)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb)
       ON CONFLICT (id) DO NOTHING
       RETURNING seq`,
      [
        task.id,
        task.user_id,
        task.task,
        task.error,
        JSON.stringify(task.backends_tried),
        task.duration_ms,
        JSON.stringify(task.details),
      ],
    );
    const row = inserted.rows[0];
    if (row) {
      await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(row.seq)]);
      return { status: 'recorded', id: task.id, seq: Number(row.seq) };
    }
    const prior = await tx.query<{ user_id: string; seq: number }>(
      'SELECT user_id, seq FROM failed_tasks WHERE id = $1',
      [task.id],
    );
    const existing = prior.rows[0];
    // Like inputs: an id is only "already there" for the user who owns it.
    if (!existing || existing.user_id !== task.user_id) return { status: 'conflict', id: task.id };
    return { status: 'already_exists', id: task.id, seq: Number(existing.seq) };
  });
}

/** Failed tasks after `afterSeq` in commit order, optionally for one user. */
export async function failedTasksAfter(
  db: Queryable,
  afterSeq: number,
  userId: string | undefined,
  limit: number,
): Promise<StoredFailedTask[]> {
  const r = await db.query<StoredFailedTask>(
    `SELECT ${COLUMNS} FROM failed_tasks WHERE seq > $1 AND ($2::text IS NULL OR user_id = $2)
     ORDER BY seq ASC LIMIT $3`,
    [afterSeq, userId ?? null, limit],
  );
  return r.rows.map((row) => ({ ...row, seq: Number(row.seq) }));
}
