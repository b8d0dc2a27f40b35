import { createServiceApp, GroupCommitter, registerTools } from '@cortex/service-kit';
import { testDatabases } from '@cortex/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database';
import { mapDbError } from '../db/db-errors';
import { migrate } from '../db/migrate';
import { EVENTS_CHANNEL } from '../store/event-order';
import { failedTasksAfter } from '../store/failed-task-store';
import { insertBatch, type NewInput, type StoreOutcome } from '../store/input-store';
import { taskTools } from './task-tools';
import type { MemoryContext } from './tool';

describe.each(testDatabases())('record_failed_task on $name', (target) => {
  let app: FastifyInstance;
  let db: Database;
  const tool = (payload: unknown) =>
    app.inject({ method: 'POST', url: '/tool/record_failed_task', payload: payload as object });
  const input = (id: string): NewInput => ({
    id,
    user_id: 'u1',
    conversation_id: null,
    content: id,
    metadata: {},
    timestamp: new Date().toISOString(),
  });

  beforeAll(async () => {
    db = await target.open();
    await migrate(db);
    const ctx: MemoryContext = {
      db,
      committer: new GroupCommitter<NewInput, StoreOutcome>((items) => insertBatch(db, items)),
    };
    app = createServiceApp({ service: 'memory', logLevel: 'silent' });
    registerTools(app, taskTools, ctx, mapDbError);
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await target.cleanup();
  });

  it('records a failed task with a seq from the shared event sequence, and notifies', async () => {
    const notified: string[] = [];
    const unlisten = await db.listen(EVENTS_CHANNEL, (payload) => notified.push(payload));
    try {
      const [before] = await insertBatch(db, [input('in-1')]);
      const res = await tool({
        arguments: {
          user_id: 'u1',
          task: 'analyze_conversation',
          error: 'all_backends_failed',
          backends_tried: ['gpt', 'local'],
          duration_ms: 42,
          details: { conversation_id: 'c1', analysis_type: 'summary' },
        },
      });
      expect(res.statusCode).toBe(200);
      const result = res.json().result;
      expect(result).toMatchObject({ status: 'recorded', user_id: 'u1' });
      const [after] = await insertBatch(db, [input('in-2')]);
      // One sequence for every event table: the failed task sits between the inputs around it.
      expect(before && 'seq' in before && result.seq > before.seq).toBe(true);
      expect(after && 'seq' in after && after.seq > result.seq).toBe(true);

      const rows = await failedTasksAfter(db, 0, 'u1', 10);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        id: result.id,
        seq: result.seq,
        task: 'analyze_conversation',
        error: 'all_backends_failed',
        backends_tried: ['gpt', 'local'],
        duration_ms: 42,
        details: { conversation_id: 'c1', analysis_type: 'summary' },
      });
      expect(Date.parse(rows[0]?.created_at ?? '')).not.toBeNaN();
      await expect.poll(() => notified.includes(String(result.seq))).toBe(true);
    } finally {
      await unlisten();
    }
  });

  it('is idempotent on id, and another user’s id is a conflict', async () => {
    const args = { id: 'ft-1', user_id: 'u2', task: 't', error: 'e', duration_ms: 1 };
    const first = (await tool(args)).json().result;
    const again = (await tool(args)).json().result;
    expect(first.status).toBe('recorded');
    expect(again).toEqual({ ...first, status: 'already_exists' });
    const other = await tool({ ...args, user_id: 'u3' });
    expect(other.statusCode).toBe(409);
    expect(other.json().error.code).toBe('conflict');
    expect(await failedTasksAfter(db, 0, 'u3', 10)).toEqual([]);
  });

  it('rejects bad arguments with 400', async () => {
    for (const bad of [
      { user_id: 'u1', task: 't', error: 'e' },
      { user_id: '', task: 't', error: 'e', duration_ms: 1 },
      { user_id: 'u1', task: 't', error: 'e\u0000', duration_ms: 1 },
      { user_id: 'u1', task: 't', error: 'e', duration_ms: -1 },
      { user_id: 'u1', task: 't', error: 'e', duration_ms: 1, backends_tried: 'local' },
    ]) {
      const res = await tool(bad);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
  });
});
