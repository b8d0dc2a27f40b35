import type { Queryable } from '../db/database';

/**
 * Every table that feeds the event stream draws its `seq` from `event_seq` after taking this
 * transaction-scoped lock. Writers are thereby serialised from lock to commit, so seq order is
 * commit order across every memory instance, and a reader resuming "after N" never skips a row
 * that commits late (a plain sequence alone would allow that).
 */
export const EVENT_WRITE_LOCK = 727_002;

/** NOTIFY channel: the payload is only the newest seq, a hint to re-read (payloads are capped at 8000 bytes). */
export const EVENTS_CHANNEL = 'cortex_events';

export async function lockEventWriters(tx: Queryable) {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [EVENT_WRITE_LOCK]);
}
