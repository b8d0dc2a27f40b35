import { randomFillSync } from 'node:crypto';

// Random bytes drawn in bulk: one syscall-backed fill per 256 ids instead of one per id.
const POOL = Buffer.alloc(16 * 256);
let offset = POOL.length;

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made later
 * sort later, so a btree index on them (memory's primary key) grows at its right edge like a
 * sequence, instead of touching a random page per insert as random UUIDs do: once the index
 * outgrows the buffer cache, that is a read and, after each checkpoint, a full-page WAL write per
 * insert. Unguessable still (74 random bits); it reveals when it was made, as the data beside it does.
 */
export function timeOrderedId(now: number = Date.now()): string {
  if (offset === POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const b = Buffer.from(POOL.subarray(offset, offset + 16));
  offset += 16;
  b.writeUIntBE(Math.max(0, Math.floor(now)) % 2 ** 48, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
