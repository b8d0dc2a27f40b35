import { z } from 'zod';
import { readItems } from '../context/memory-reader';
import { analysisTypes } from '../models/analysis';
import { LocalAnalyser } from '../models/local-analyser';
import { reportFailedTask } from '../tasks/failure-recorder';
import { defineTool, idArg } from './tool';

const TASK = 'analyze_conversation';
const empty = new LocalAnalyser();

export const analyzeConversation = defineTool({
  name: TASK,
  description:
    "Summary, topics or sentiment of one of the user's conversations, from the first model backend that answers.",
  args: z.object({
    user_id: idArg(),
    conversation_id: idArg(),
    analysis_type: z.enum(analysisTypes),
  }),
  result: z.looseObject({ type: z.enum(analysisTypes), conversation_id: z.string(), results: z.unknown() }),
  // Reads the conversation; it writes only a failed-task record when no backend answers.
  annotations: { readOnlyHint: false, idempotentHint: true },
  async run({ user_id, conversation_id, analysis_type }, ctx, call) {
    const base = { type: analysis_type, conversation_id };
    // Nothing analysed (memory away, every backend failed) still answers the type's own shape,
    // empty, so that clients never meet a null where results belong.
    const nothing = () => empty.analyse({ type: analysis_type, messages: [] });
    const { items, error } = await readItems(
      ctx.memory,
      `conversation/${encodeURIComponent(conversation_id)}`,
      {
        limit: ctx.env.CONVERSATION_WINDOW,
        userId: user_id,
        requestId: call.requestId,
        deadline: call.deadline,
      },
    );
    if (error) return { ...base, results: await nothing(), backend: null, message_count: 0, error };
    const task = {
      type: analysis_type,
      messages: items.map((i) => ({ content: i.content, timestamp: i.timestamp })),
    };
    const message_count = task.messages.length;
    // Nothing to analyse is not worth a model call; the empty shapes are the local analyser's.
    if (message_count === 0) {
      return { ...base, results: await empty.analyse(task), backend: 'local', message_count };
    }
    const outcome = await ctx.models.run(task, { deadline: call.deadline, log: call.log });
    const failed_backends = outcome.failed.length > 0 ? { failed_backends: outcome.failed } : {};
    if (outcome.ok) {
      return {
        ...base,
        results: outcome.result,
        backend: outcome.backend,
        message_count,
        ...failed_backends,
      };
    }
    await reportFailedTask(
      ctx.memory,
      {
        user_id,
        task: TASK,
        error: 'all_backends_failed',
        failed: outcome.failed,
        duration_ms: outcome.durationMs,
        details: { conversation_id, analysis_type },
      },
      call,
    );
    return {
      ...base,
      results: await nothing(),
      backend: null,
      message_count,
      enrichment_error: 'all_backends_failed',
      ...failed_backends,
    };
  },
});
