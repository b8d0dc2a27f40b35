import { randomUUID } from 'node:crypto';
import { CortexError } from '@cortex/errors';
import { storableObject, storableString } from '@cortex/service-kit';
import { z } from 'zod';
import { insertFailedTask } from '../store/failed-task-store';
import { itemId, userId } from './input-schemas';
import { defineTool } from './tool';

export const recordFailedTask = defineTool({
  name: 'record_failed_task',
  description:
    'Record a task no backend could complete; it appears in the user event feed as task_failed. Idempotent on id.',
  args: z.object({
    id: itemId.optional(),
    user_id: userId,
    task: storableString().min(1).max(256),
    error: storableString().min(1).max(2000),
    backends_tried: z.array(storableString().min(1).max(128)).max(32).default([]),
    duration_ms: z.coerce.number().int().min(0).max(2_147_483_647),
    /** Whatever identifies the task's subject (conversation_id, analysis_type, ...). */
    details: storableObject().optional(),
  }),
  result: z.looseObject({ status: z.string(), user_id: z.string(), id: z.string() }),
  annotations: { readOnlyHint: false, idempotentHint: true },
  async run(args, ctx) {
    const outcome = await insertFailedTask(ctx.db, {
      id: args.id ?? randomUUID(),
      user_id: args.user_id,
      task: args.task,
      error: args.error,
      backends_tried: args.backends_tried,
      duration_ms: args.duration_ms,
      details: args.details ?? {},
    });
    if (outcome.status === 'conflict') {
      throw new CortexError('conflict', 'A failed task with this id belongs to another user');
    }
    return { status: outcome.status, user_id: args.user_id, id: outcome.id, seq: outcome.seq };
  },
});

/** Registered by the memory app next to `memoryTools`. */
export const taskTools = [recordFailedTask];
