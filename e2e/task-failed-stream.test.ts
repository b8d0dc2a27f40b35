import { freePort, http, tokenFor } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReceivedEvent, SseRecorder } from './harness/sse-client';
import { primaryMode, System } from './harness/system';

const database = primaryMode();

/** A loopback port nothing listens on: a model backend that refuses every connection. */
const deadPort = freePort;

const types = (events: ReceivedEvent[]) => events.map((e) => e.data.type);
const streamed = (events: ReceivedEvent[]) =>
  events.filter((e) => e.data.type === 'input' || e.data.type === 'task_failed');

// A task_failed event carries `error: "<message>"`. It once made the network client take it for an
// in-band error: the gateway's feed broke on it (the live stream never showed it) and every resume
// from before it ended in an `error` event, forever.
describe(`a failed task on the user's stream (${database})`, () => {
  let system: System;
  let gw: string;

  beforeAll(async () => {
    const port = await deadPort();
    system = await System.start({
      database,
      env: {
        // The only backend refuses connections and the built-in analyser is off: every analysis
        // with messages fails on all backends, and cognition records a failed task.
        cognition: {
          MODEL_BACKENDS: `dead=openai:http://127.0.0.1:${port}/v1|m`,
          LOCAL_ANALYSER: 'off',
          MODEL_TIMEOUT_MS: '2000',
        },
      },
    });
    gw = system.gateway.url;
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('reaches the live stream with an id, and a resume from before it shows it once, then later inputs', async () => {
    const token = await tokenFor('bob-failed-task');
    const live = await SseRecorder.open(`${gw}/output/stream?token=${token}`);
    await live.waitFor((e) => types(e).includes('connection_established'));

    const first = await http('POST', `${gw}/input`, {
      token,
      body: { content: 'please summarise this', conversation_id: 'conv-fail' },
    });
    expect(first.body.status).toBe('received');
    await live.waitFor((e) => types(e).includes('input'), 15_000, 'the first input');
    const before = live.ofType('input')[0]?.id as string;

    const analysis = await http('GET', `${gw}/analysis/conv-fail?type=summary`, { token });
    expect(analysis.status).toBe(200);
    expect(analysis.body).toMatchObject({ backend: null, enrichment_error: 'all_backends_failed' });
    await live.waitFor((e) => types(e).includes('task_failed'), 15_000, 'the task_failed event');

    const second = await http('POST', `${gw}/input`, { token, body: { content: 'and then this' } });
    await live.waitFor(() => live.ofType('input').length === 2, 15_000, 'the input after it');

    const failed = live.ofType('task_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.data).toMatchObject({
      type: 'task_failed',
      task: 'analyze_conversation',
      error: 'all_backends_failed',
      backends_tried: ['dead'],
      user_id: 'bob-failed-task',
    });
    expect(failed[0]?.data.id).toEqual(expect.any(String));
    expect(failed[0]?.data.duration_ms).toEqual(expect.any(Number));
    expect(failed[0]?.data.timestamp).toEqual(expect.any(String));
    const failedId = failed[0]?.id as string;
    expect(Number(failedId)).toBeGreaterThan(Number(before));
    expect(streamed(live.events).map((e) => e.data.id ?? e.data.type)).toEqual([
      first.body.item_id,
      failed[0]?.data.id,
      second.body.item_id,
    ]);
    expect(types(live.events)).not.toContain('error');
    live.close();

    // Resumed from before the failure, by header (a browser's reconnect) and by query (a new page).
    const resumes: { url: string; headers: Record<string, string> }[] = [
      { url: `${gw}/output/stream?token=${token}`, headers: { 'last-event-id': before } },
      { url: `${gw}/output/stream?token=${token}&last_event_id=${before}`, headers: {} },
    ];
    for (const resume of resumes) {
      const again = await SseRecorder.open(resume.url, resume.headers);
      await again.waitFor(
        (e) => e.some((x) => x.data.id === second.body.item_id),
        15_000,
        'the replay up to the later input',
      );
      // The failure once, then the input that followed it (and any posted since), none repeated.
      const replayed = streamed(again.events);
      expect(replayed.slice(0, 2).map((e) => [e.id, e.data.type])).toEqual([
        [failedId, 'task_failed'],
        [live.ofType('input')[1]?.id, 'input'],
      ]);
      expect(again.ofType('task_failed')).toHaveLength(1);
      expect(new Set(replayed.map((e) => e.id)).size).toBe(replayed.length);
      // The resumed stream is live: a new input arrives on it, after the replay.
      const third = await http('POST', `${gw}/input`, { token, body: { content: 'live after resume' } });
      await again.waitFor((e) => e.some((x) => x.data.id === third.body.item_id), 15_000, 'a live input');
      expect(types(again.events)).not.toContain('error');
      expect(again.closed).toBe(false);
      again.close();
    }
  });
});
