import type { Database, Queryable } from '../db/database';

export interface NewInput {
  id: string;
  user_id: string;
  conversation_id: string | null;
  content: string;
  metadata: Record<string, unknown>;
  timestamp: string;
}

export interface StoredInput extends NewInput {
  seq: number;
}

/** What the first store of an id kept: an idempotent retry is answered with it, not its own copy. */
export interface StoredData {
  content: string;
  conversation_id: string | null;
  timestamp: string;
  metadata: Record<string, unknown>;
}

export type StoreOutcome =
  | { status: 'stored'; item_id: string; seq: number }
  | { status: 'already_exists'; item_id: string; seq: number; data: StoredData }
  | { status: 'conflict'; item_id: string };

import { EVENTS_CHANNEL, lockEventWriters } from './event-order';

const COLUMNS = `id, seq, user_id, conversation_id, content, metadata, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "timestamp"`;

/** Writes a batch in one transaction with one multi-row insert; idempotent on id. */
export async function insertBatch(db: Database, inputs: NewInput[]): Promise<StoreOutcome[]> {
  return db.transaction(async (tx) => {
    await lockEventWriters(tx);
    const fresh = new Map<string, NewInput>();
    for (const i of inputs) if (!fresh.has(i.id)) fresh.set(i.id, i);
    const rows = [...fresh.values()];
    const inserted = await tx.query<{ id: string; seq: number }>(
      `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp")
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])
       ON CONFLICT (id) DO NOTHING
       RETURNING id, seq`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.user_id),
        rows.map((r) => r.conversation_id),
        rows.map((r) => r.content),
        rows.map((r) => JSON.stringify(r.metadata)),
        rows.map((r) => r.timestamp),
      ],
    );
    const stored = new Map(inserted.rows.map((r) => [r.id, r.seq]));
    const missing = rows.filter((r) => !stored.has(r.id)).map((r) => r.id);
    const existing = new Map<string, StoredInput>();
    if (missing.length > 0) {
      const found = await tx.query<StoredInput>(`SELECT ${COLUMNS} FROM inputs WHERE id = ANY($1::text[])`, [
        missing,
      ]);
      for (const r of found.rows) existing.set(r.id, r);
    }
    if (inserted.rows.length > 0) {
      const maxSeq = Math.max(...inserted.rows.map((r) => r.seq));
      await tx.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, String(maxSeq)]);
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
