import type { ServiceClient } from '@cortex/network-client';
import { stableId } from '@cortex/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { budgetFor } from '../context/memory-reader';
import type { FailedAttempt } from '../models/model-chain';

export interface FailedTask {
  user_id: string;
  task: string;
  error: string;
  failed: FailedAttempt[];
  duration_ms: number;
  details: Record<string, unknown>;
}

/**
 * Tells memory (`record_failed_task`) that a task failed on every backend, so the user's event
 * stream shows it. Best effort: the user already has a degraded answer, and memory being away
 * must not turn it into an error, so a failure here is only logged.
 */
export async function reportFailedTask(
  memory: ServiceClient,
  task: FailedTask,
  call: { log: FastifyBaseLogger; requestId: string; deadline?: number | undefined },
): Promise<boolean> {
  // The same failure seen again by a retry (ours, or the caller's with the same request id) is
  // recorded once: memory answers `already_exists` for a known id.
  const id = stableId(call.requestId, task.user_id, task.task, JSON.stringify(task.details));
  try {
    await memory.callTool(
      'record_failed_task',
      {
        id,
        user_id: task.user_id,
        task: task.task,
        error: task.error,
        backends_tried: task.failed.map((f) => f.backend),
        duration_ms: Math.max(0, Math.round(task.duration_ms)),
        details: { ...task.details, failures: task.failed },
      },
      // Within the caller's time: the degraded answer must not wait past it for this record.
      { requestId: call.requestId, deadline: budgetFor(call.deadline) },
    );
    return true;
  } catch (err) {
    call.log.warn(
      { err: { code: (err as { code?: string }).code, message: (err as Error).message }, task: task.task },
      'could not record failed task',
    );
    return false;
  }
}
