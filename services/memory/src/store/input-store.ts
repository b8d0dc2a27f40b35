import type { Database, Queryable } from '../db/database';

export interface NewInput {
  id: string;
  user_id: string;
  conversation_id: string | null;
  content: string;
  metadata: Record<string, unknown>;
  timestamp: string;
  /**
   * The W3C traceparent of the span that stores it (the storing request's, as its group commit
   * links to), kept beside the input for the feed; undefined with tracing off (stored as null).
   */
  traceparent?: string | undefined;
}

export interface StoredInput extends NewInput {
  seq: number;
}

/** What the first store of an id kept: an idempotent retry is answered with it, not its own copy. */
interface StoredData {
  content: string;
  conversation_id: string | null;
  timestamp: string;
  metadata: Record<string, unknown>;
}

export type StoreOutcome =
  | { status: 'stored'; item_id: string; seq: number }
  | { status: 'already_exists'; item_id: string; seq: number; data: StoredData }
  | { status: 'conflict'; item_id: string };

import { EVENT_WRITE_LOCK, EVENTS_CHANNEL } from './event-order';

const COLUMNS = `id, seq, user_id, conversation_id, content, metadata, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "timestamp"`;

/**
 * Writes a batch in one statement, idempotent on id: `memory_store_inputs_v2` (migrations 004, 006) takes
 * the event writers' lock, inserts, and notifies, in the statement's own transaction. One round
 * trip, so the lock is held for the insert and the commit only.
 */
export async function insertBatch(db: Database, inputs: NewInput[]): Promise<StoreOutcome[]> {
  const fresh = new Map<string, NewInput>();
  for (const i of inputs) if (!fresh.has(i.id)) fresh.set(i.id, i);
  const rows = [...fresh.values()];
  const r = await db.query<StoredInput & { fresh: boolean }>(
    'SELECT * FROM memory_store_inputs_v2($1, $2, $3, $4, $5, $6, $7::jsonb[], $8::timestamptz[], $9::text[])',
    [
      EVENT_WRITE_LOCK,
      EVENTS_CHANNEL,
      rows.map((r) => r.id),
      rows.map((r) => r.user_id),
      rows.map((r) => r.conversation_id),
      rows.map((r) => r.content),
      rows.map((r) => JSON.stringify(r.metadata)),
      rows.map((r) => r.timestamp),
      rows.map((r) => r.traceparent ?? null),
    ],
  );
  const stored = new Map<string, number>();
  const existing = new Map<string, StoredInput>();
  for (const row of r.rows) {
    if (row.fresh) stored.set(row.id, Number(row.seq));
    else existing.set(row.id, { ...row, seq: Number(row.seq) });
  }
  const claimed = new Set<string>();
  return inputs.map((input): StoreOutcome => {
    const seq = stored.get(input.id);
    if (seq !== undefined && !claimed.has(input.id)) {
      claimed.add(input.id);
      return { status: 'stored', item_id: input.id, seq };
    }
    // A repeat of an id inside this very batch: the first occurrence is what was stored.
    const prior = existing.get(input.id) ?? { ...(fresh.get(input.id) as NewInput), seq: seq ?? 0 };
    // An id is only "already there" for the user who owns it; another user's id is a conflict.
    if (prior.user_id !== input.user_id) return { status: 'conflict', item_id: input.id };
    const { content, conversation_id, timestamp, metadata } = prior;
    return {
      status: 'already_exists',
      item_id: input.id,
      seq: prior.seq,
      data: { content, conversation_id, timestamp, metadata },
    };
  });
}

/** The user's newest inputs, newest first (migration 003's index-ordered read). */
export async function historyFor(db: Queryable, userId: string, limit: number): Promise<StoredInput[]> {
  const r = await db.query<StoredInput>('SELECT * FROM memory_history($1, $2)', [userId, limit]);
  for (const row of r.rows) row.seq = Number(row.seq);
  return r.rows;
}

/**
 * The newest `limit` messages of a conversation (a window on a long conversation is its latest
 * part), oldest first: read newest first down the index, then turned around here.
 */
export async function conversation(
  db: Queryable,
  conversationId: string,
  userId: string | undefined,
  limit: number,
): Promise<StoredInput[]> {
  const r = await db.query<StoredInput>('SELECT * FROM memory_conversation($1, $2, $3)', [
    conversationId,
    userId ?? null,
    limit,
  ]);
  for (const row of r.rows) row.seq = Number(row.seq);
  return r.rows.reverse();
}

export async function getInput(db: Queryable, id: string, userId: string | undefined) {
  const r = await db.query<StoredInput>(
    `SELECT ${COLUMNS} FROM inputs WHERE id = $1 AND ($2::text IS NULL OR user_id = $2)`,
    [id, userId ?? null],
  );
  return r.rows[0];
}

export async function updateInput(
  db: Queryable,
  userId: string,
  id: string,
  updates: {
    content?: string | undefined;
    conversation_id?: string | undefined;
    metadata?: Record<string, unknown> | undefined;
  },
) {
  const r = await db.query(
    `UPDATE inputs SET content = COALESCE($3, content), conversation_id = COALESCE($4, conversation_id),
       metadata = COALESCE($5::jsonb, metadata), updated_at = now()
     WHERE id = $1 AND user_id = $2`,
    [
      id,
      userId,
      updates.content ?? null,
      updates.conversation_id ?? null,
      updates.metadata ? JSON.stringify(updates.metadata) : null,
    ],
  );
  return r.rowCount > 0;
}

export async function deleteInput(db: Queryable, userId: string, id: string) {
  const r = await db.query('DELETE FROM inputs WHERE id = $1 AND user_id = $2', [id, userId]);
  return r.rowCount > 0;
}
