import { CortexError } from '@cortex/errors';
import { storableObject, storableString, timeOrderedId } from '@cortex/service-kit';
import { currentTraceparent } from '@cortex/telemetry';
import { z } from 'zod';
import { deleteInput, getInput, type NewInput, type StoreOutcome, updateInput } from '../store/input-store';
import { inputData, itemId, userId } from './input-schemas';
import { defineTool } from './tool';

const storeArgs = z.object({ user_id: userId, input_data: inputData });

function toRow({ user_id, input_data }: z.infer<typeof storeArgs>): NewInput {
  return {
    id: input_data.id ?? timeOrderedId(),
    user_id,
    conversation_id: input_data.conversation_id ?? null,
    content: input_data.content,
    metadata: input_data.metadata ?? {},
    timestamp: input_data.timestamp ?? new Date().toISOString(),
    // The span active now is the one the group commit will link to: the feed event names it.
    // Undefined (stored as null) with tracing off, after one boolean test.
    traceparent: currentTraceparent(),
  };
}

function answer(user_id: string, outcome: StoreOutcome) {
  if (outcome.status === 'conflict')
    return { status: 'conflict' as const, user_id, item_id: outcome.item_id };
  if (outcome.status === 'already_exists') return { ...outcome, user_id };
  return { status: outcome.status, user_id, item_id: outcome.item_id, seq: outcome.seq };
}

const storeInput = defineTool({
  name: 'store_input',
  description: 'Store one input for a user; idempotent on input_data.id.',
  args: storeArgs,
  result: z.looseObject({
    status: z.enum(['stored', 'already_exists']),
    user_id: z.string(),
    item_id: z.string(),
  }),
  annotations: { readOnlyHint: false, idempotentHint: true },
  async run(args, ctx) {
    const result = answer(args.user_id, await ctx.committer.submit(toRow(args)));
    if (result.status === 'conflict') {
      throw new CortexError('conflict', 'An input with this id belongs to another user');
    }
    return result;
  },
});

/**
 * Several inputs in one call, for a caller that batches (the gateway under load): one HTTP
 * exchange and, when they fit one group-commit batch, one transaction. Each item is answered as
 * `store_input` would answer it; an id clash is `conflict` in its own result, not a failed call.
 */
const storeInputs = defineTool({
  name: 'store_inputs',
  description: 'Store several inputs at once; each result as store_input would answer it.',
  args: z.object({ items: z.array(storeArgs).min(1).max(500) }),
  result: z.looseObject({ results: z.array(z.looseObject({ status: z.string(), item_id: z.string() })) }),
  annotations: { readOnlyHint: false, idempotentHint: true },
  async run({ items }, ctx) {
    const outcomes = await ctx.committer.submitMany(items.map(toRow));
    return { results: outcomes.map((o, i) => answer((items[i] as z.infer<typeof storeArgs>).user_id, o)) };
  },
});

const getMessage = defineTool({
  name: 'get_message',
  description: 'Read one stored input; scoped to user_id when given.',
  args: z.object({ message_id: itemId, user_id: userId.optional() }),
  result: z.looseObject({ status: z.enum(['found', 'not_found']), message: z.looseObject({}).nullable() }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  async run({ message_id, user_id }, ctx) {
    const message = await getInput(ctx.db, message_id, user_id);
    return { status: message ? 'found' : 'not_found', message: message ?? null };
  },
});

const updateMessage = defineTool({
  name: 'update_message',
  description: "Update a user's stored input (content, conversation_id, metadata).",
  args: z.object({
    user_id: userId,
    message_id: itemId,
    updates: z
      .object({
        content: storableString().min(1).max(1_000_000).optional(),
        conversation_id: storableString().max(256).optional(),
        metadata: storableObject().optional(),
      })
      .refine((u) => Object.keys(u).length > 0, 'updates must change at least one field'),
  }),
  result: z.looseObject({ status: z.enum(['updated', 'not_found']), item_id: z.string() }),
  annotations: { readOnlyHint: false, idempotentHint: true },
  async run({ user_id, message_id, updates }, ctx) {
    const updated = await updateInput(ctx.db, user_id, message_id, updates);
    return { status: updated ? 'updated' : 'not_found', item_id: message_id };
  },
});

const deleteMessage = defineTool({
  name: 'delete_message',
  description: "Delete a user's stored input.",
  args: z.object({ user_id: userId, message_id: itemId }),
  result: z.looseObject({ status: z.enum(['deleted', 'not_found']), item_id: z.string() }),
  annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: true },
  async run({ user_id, message_id }, ctx) {
    const deleted = await deleteInput(ctx.db, user_id, message_id);
    return { status: deleted ? 'deleted' : 'not_found', item_id: message_id };
  },
});

export const memoryTools = [storeInput, storeInputs, getMessage, updateMessage, deleteMessage];
