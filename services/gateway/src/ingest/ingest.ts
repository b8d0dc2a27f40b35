import { hasCode } from '@cortex/errors';
import type { ServiceClient } from '@cortex/network-client';
import type { Listener, ResilienceEvent } from '@cortex/resilience';
import { stableId, timeOrderedId } from '@cortex/service-kit';
import { currentTraceparent } from '@cortex/telemetry';
import type { FastifyBaseLogger } from 'fastify';
import type { Feed } from '../feed/follow-feed';
import type { PendingItem, PendingJournal } from '../pending/journal';
import { PendingReplayer } from '../pending/replayer';
import type { EventHub } from '../stream/event-hub';
import { inputEvent } from '../stream/user-events';
import type { InputData } from './input-data';
import { InputWriter, refusedByMemory } from './input-writer';

/** An input as a user sent it, parsed and authenticated by the route. */
export interface NewInput {
  user_id: string;
  content: string;
  conversation_id: string | null;
  metadata: Record<string, unknown>;
  /** The client's Idempotency-Key, if it sent one. */
  key?: string;
}

/** The contract's answer to `POST /input`. */
export interface Acceptance {
  status: 'received' | 'received_storage_pending' | 'received_not_stored';
  item_id: string;
  data: InputData;
}

export interface IngestOptions {
  memory: ServiceClient;
  journal: PendingJournal;
  hub: Pick<EventHub, 'publishPending'>;
  /** Replays wait until the feed's position is known (see `Feed.following`). */
  feed: Pick<Feed, 'whenFollowing'>;
  log: FastifyBaseLogger;
  /** Batches in flight to memory for live inputs (STORE_BATCHES_IN_FLIGHT; see InputWriter). */
  storeBatchesInFlight?: number;
  /** The replayer's backoff events, logged like memory's other retries (`background_retry`). */
  onEvent?: Listener<ResilienceEvent>;
}

/**
 * How long an input met by an open circuit waits for a health check of memory before it is
 * journalled. A refused connection answers in a millisecond; only a hanging memory costs this.
 */
const RECHECK_WAIT_MS = 200;

/**
 * A retry with the same key and user maps to the same item id, so memory stores it once. Without
 * a key the id is time-ordered, so memory's primary key grows at its edge (see timeOrderedId).
 */
function itemIdFor(userId: string, key: string | undefined): string {
  return key === undefined ? timeOrderedId() : stableId(userId, key);
}

/**
 * The gateway's input acceptance, live and replayed. Stored in memory → `received`. Memory away
 * (refused, timed out, circuit open, database down) → journalled durably, shown pending on the
 * user's streams at once, stored later by the replayer → `received_storage_pending`. Journal full
 * or failing → `received_not_stored`. Memory refusing the input as wrong → thrown (a 4xx), never
 * journalled; replayed, such an input is dropped.
 */
export class Ingest {
  private readonly live: InputWriter;
  // A writer of its own: concurrent replays go to memory as `store_inputs` batches (one call and
  // one transaction per up to 200), each answer checked like a live input's (a wrong shape is no
  // proof of storage; a conflict is a refusal, dropped with a log); and live inputs never queue
  // behind a replayed batch (each writer has one call in flight).
  private readonly replaying: InputWriter;
  private readonly replayer: PendingReplayer;
  private stopResuming: (() => void) | undefined;

  constructor(private readonly options: IngestOptions) {
    this.live = new InputWriter(options.memory, 200, options.storeBatchesInFlight ?? 1);
    this.replaying = new InputWriter(options.memory);
    this.replayer = new PendingReplayer(options.journal, {
      log: options.log,
      concurrency: 200,
      store: (item, signal) => this.storeReplayed(item, signal),
    });
    if (options.onEvent) this.replayer.events.on(options.onEvent);
  }

  /** Starts replaying the journal (what a previous run left in it too). */
  start() {
    this.replayer.start();
    // Memory answering its health check ends the replayer's backoff at once (see ServiceClient).
    this.stopResuming ??= this.options.memory.onRecovered(() => this.replayer.resume());
    return this;
  }

  async stop() {
    this.stopResuming?.();
    await this.replayer.stop();
  }

  async accept(input: NewInput, request: { id: string; log: FastifyBaseLogger }): Promise<Acceptance> {
    const { journal, hub, memory } = this.options;
    const data: InputData = {
      content: input.content,
      conversation_id: input.conversation_id,
      timestamp: new Date().toISOString(),
      metadata: input.metadata,
    };
    const itemId = itemIdFor(input.user_id, input.key);
    // A retry of an input still waiting in the journal must not be stored around it; like a retry
    // of a stored one, it is answered with what the first request carried.
    const pending = await journal.held(itemId);
    if (pending) return { status: 'received_storage_pending', item_id: itemId, data: pending };
    let retryAfterMs: number | undefined;
    const store = () =>
      this.live.store({
        user_id: input.user_id,
        item_id: itemId,
        data,
        requestId: request.id,
        log: request.log,
      });
    try {
      let kept: InputData;
      try {
        kept = await store();
      } catch (err) {
        // The circuit may still be open although memory is back (its open period was sized for an
        // outage): the gateway asks memory's health itself rather than journal a storable input.
        if (!hasCode(err, 'circuit_open') || !(await memory.recheck(RECHECK_WAIT_MS))) throw err;
        kept = await store();
      }
      return { status: 'received', item_id: itemId, data: kept };
    } catch (err) {
      if (refusedByMemory(err)) throw err;
      request.log.warn(
        { code: hasCode(err) ? err.code : 'unknown' },
        'memory could not store input; journalling',
      );
      // Our own breaker's remaining open period is not memory's Retry-After (it ends on evidence).
      retryAfterMs = hasCode(err) && err.code !== 'circuit_open' ? err.retryAfterMs : undefined;
    }
    let held: InputData;
    try {
      // A concurrent retry of the same input shares one journal line, and answers with its data.
      const traceparent = currentTraceparent();
      held = await journal.append({
        item_id: itemId,
        user_id: input.user_id,
        data,
        ...(traceparent === undefined ? {} : { traceparent }),
      });
    } catch (err) {
      request.log.error({ code: hasCode(err) ? err.code : 'unknown' }, 'input could not be journalled');
      return { status: 'received_not_stored', item_id: itemId, data };
    }
    if (held === data) hub.publishPending(input.user_id, inputEvent(input.user_id, itemId, data));
    this.replayer.kick(retryAfterMs);
    return { status: 'received_storage_pending', item_id: itemId, data: held };
  }

  /** The replayer's store path: resolves when memory has the journalled item. */
  private async storeReplayed(item: PendingItem, signal: AbortSignal) {
    await this.options.feed.whenFollowing(signal);
    signal.throwIfAborted();
    await this.replaying.store({
      user_id: item.user_id,
      item_id: item.item_id,
      data: item.data,
      requestId: `replay-${item.item_id}`,
      log: this.options.log,
    });
  }
}
