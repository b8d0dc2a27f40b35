import { randomUUID } from 'node:crypto';
import { type CodedError, CortexError, hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import { GroupCommitter } from '@cortex/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { type InputData, inputData } from './input-data';

export interface StoreRequest {
  user_id: string;
  item_id: string;
  data: InputData;
  requestId: string;
  log: FastifyBaseLogger;
}

/** Memory's answer to `store_input`, as the contract states it. */
export const stored = z.object({
  status: z.enum(['stored', 'already_exists', 'conflict']),
  item_id: z.string(),
  // Sent with `already_exists`: what the first store of this id kept.
  data: inputData.optional(),
});
const batchResult = z.object({ results: z.array(stored) });

// What memory says when the input itself is wrong: journalling or replaying it would only repeat
// the failure, so the caller hears it (a 4xx) or the replayer drops it.
const REFUSALS = new Set(['invalid_request', 'client_error', 'conflict', 'payload_too_large']);

export function refusedByMemory(err: unknown): err is CodedError {
  return hasCode(err) && REFUSALS.has(err.code);
}

/** Batches stay well inside memory's body limit (`BODY_LIMIT_BYTES`, 4 MiB by default). */
const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Hands inputs to memory. A lone input goes as `store_input` under its own request id, at once.
 * Inputs that arrive while a call is in flight wait for it and then go together as one
 * `store_inputs` call: under load the gateway makes one memory round trip per batch rather than
 * per input, and memory writes the batch in one transaction.
 */
export class InputWriter {
  private readonly committer: GroupCommitter<StoreRequest, z.infer<typeof stored>>;

  /**
   * Batches in flight (the gateway's STORE_BATCHES_IN_FLIGHT, 1 by default). With memory's write
   * down to one statement, a second batch in flight measured 1.05x the naive peer against 0.92x
   * with one (bench:ingest, 2026-12-02, on a busy machine: within its noise), and it changes how
   * many calls meet a slow memory before the breaker opens (e2e network-faults' slow-memory scenario
   * then counted no timeouts), so the default stays 1 until that is understood.
   */
  constructor(memory: ServiceClient, maxBatch = 200, maxInFlight = 1) {
    this.committer = new GroupCommitter(
      async (batch) => {
        const toArgs = (r: StoreRequest) => ({
          user_id: r.user_id,
          input_data: { id: r.item_id, ...r.data },
        });
        if (batch.length === 1) {
          const only = batch[0] as StoreRequest;
          return [
            await memory.callTool('store_input', toArgs(only), { requestId: only.requestId, schema: stored }),
          ];
        }
        const batchId = `batch-${randomUUID()}`;
        // Each request's own log line names the batch, so a trace still leads to memory's logs.
        for (const r of batch)
          r.log.debug({ batch_request_id: batchId, size: batch.length }, 'storing in a batch');
        const { results } = await memory.callTool(
          'store_inputs',
          { items: batch.map(toArgs) },
          { requestId: batchId, schema: batchResult },
        );
        if (results.length !== batch.length)
          throw new CortexError('data_error', 'memory answered a batch partially');
        return results;
      },
      maxBatch,
      maxInFlight,
      {
        // An input of up to the gateway's 1 MiB body limit goes alone; small ones share a batch.
        weigh: (r) => Buffer.byteLength(JSON.stringify(r.data)),
        maxWeight: MAX_BATCH_BYTES,
        // A batch memory refuses as wrong is sent again one by one: one bad input must not be
        // refused (or, replayed, dropped) with its neighbours.
        splitOnFailure: (err) => refusedByMemory(err),
      },
    );
  }

  /**
   * Resolves when memory has the input, with the data memory holds for it: the request's own, or,
   * for an id stored before (an idempotent retry), what was stored then. A clash with another
   * user's id is a `conflict`.
   */
  async store(request: StoreRequest): Promise<InputData> {
    const result = await this.committer.submit(request);
    if (result.status === 'conflict')
      throw new CortexError('conflict', 'An input with this id belongs to another user');
    return result.data ?? request.data;
  }

  idle() {
    return this.committer.idle();
  }
}
