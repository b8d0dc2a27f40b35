import { z } from 'zod';

/**
 * An input's data as the gateway holds it, journals it, sends it to memory and reads it back
 * (memory's `already_exists` answer, its feed, its history): declared once, so the journal, the
 * writer, the feed and `/history` cannot drift apart. Answers from memory are checked with it, so
 * it states the wire shape only; what a client may send is `inputBody` (routes/input.ts).
 */
export const inputData = z.object({
  content: z.string(),
  conversation_id: z.string().nullable(),
  timestamp: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});
export type InputData = z.infer<typeof inputData>;

/** A stored input with its id, as memory's history and feed carry it. */
export const storedInput = inputData.extend({ id: z.string() });
export type StoredInput = z.infer<typeof storedInput>;
