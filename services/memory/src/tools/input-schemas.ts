import { storableObject, storableString } from '@cortex/service-kit';
import { z } from 'zod';

export const userId = storableString().min(1).max(256);
export const itemId = storableString().min(1).max(256);

const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** What PostgreSQL's timestamptz holds and reads back as written: years 1–9999, offsets to ±15:59. */
function storableTimestamp(t: string) {
  const offset = /([+-])(\d{2}):?(\d{2})$/.exec(t);
  if (offset && Number(offset[2]) > 15) return false;
  const at = Date.parse(t);
  return at >= EARLIEST && at <= LATEST;
}

export const inputData = z.object({
  id: itemId.optional(),
  content: storableString().min(1).max(1_000_000),
  conversation_id: storableString().max(256).nullish(),
  timestamp: z.iso
    .datetime({ offset: true })
    .refine(
      storableTimestamp,
      'timestamp must fall in the years 1 to 9999 (UTC), with an offset of at most ±15:59',
    )
    .optional(),
  metadata: storableObject().nullish(),
});
