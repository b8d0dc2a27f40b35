import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { inBandError } from '@cortex/errors';
import { http, serviceAuth, tokenFor } from '@cortex/testing';
import { createParser } from 'eventsource-parser';
import { request } from 'undici';

export interface User {
  id: string;
  token: string;
}

export async function makeUsers(prefix: string, n: number): Promise<User[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const id = `${prefix}-${i}`;
      return { id, token: await tokenFor(id) };
    }),
  );
}

export interface Answer {
  user: string;
  content: string;
  /** HTTP status; 0 when the request itself failed (connection refused, reset). */
  httpStatus: number;
  /** The body's `status` for a 200, the error code otherwise. */
  status: string;
  itemId: string | undefined;
  latencyMs: number;
}

const ACCEPTED = new Set(['received', 'received_storage_pending']);

/** Every answer to POST /input a test or soak got, and what they add up to. */
export class InputLedger {
  readonly answers: Answer[] = [];
  private n = 0;
  // Default Idempotency-Keys are unique across ledgers: a key reused by another test would
  // (correctly) be answered from the first one's journal entry or stored item.
  private readonly id = randomBytes(4).toString('hex');

  /** Posts one input with an Idempotency-Key; never throws, records what happened. */
  async post(
    gatewayUrl: string,
    user: User,
    options: { content?: string; key?: string; requestId?: string; conversationId?: string } = {},
  ): Promise<Answer> {
    const seq = this.n++;
    const content = options.content ?? `${user.id} says #${seq}`;
    const headers: Record<string, string> = {
      'idempotency-key': options.key ?? `${user.id}-${this.id}-${seq}`,
    };
    if (options.requestId) headers['x-request-id'] = options.requestId;
    const started = performance.now();
    let answer: Answer;
    try {
      const res = await http('POST', `${gatewayUrl}/input`, {
        token: user.token,
        body: { content, conversation_id: options.conversationId ?? `conv-${user.id}` },
        headers,
      });
      answer = {
        user: user.id,
        content,
        httpStatus: res.status,
        status:
          res.status === 200 ? String(res.body?.status) : String(res.body?.error?.code ?? 'no_error_body'),
        itemId: res.status === 200 ? (res.body?.item_id as string) : undefined,
        latencyMs: performance.now() - started,
      };
    } catch (err) {
      const code = (err as { code?: string })?.code ?? 'request_failed';
      answer = {
        user: user.id,
        content,
        httpStatus: 0,
        status: code,
        itemId: undefined,
        latencyMs: performance.now() - started,
      };
    }
    this.answers.push(answer);
    return answer;
  }

  /** Counts of answers by status (`received`, `received_storage_pending`, error codes…). */
  byStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.answers) out[a.status] = (out[a.status] ?? 0) + 1;
    return out;
  }

  /** Inputs the gateway took responsibility for (200 received / received_storage_pending), by item id. */
  accepted(): Map<string, Answer> {
    const out = new Map<string, Answer>();
    for (const a of this.answers)
      if (a.httpStatus === 200 && ACCEPTED.has(a.status)) out.set(a.itemId as string, a);
    return out;
  }

  /** 5xx answers: POST /input must never give one. */
  serverErrors(): Answer[] {
    return this.answers.filter((a) => a.httpStatus >= 500);
  }
}

export interface StoredInput {
  seq: number;
  id: string;
  user_id: string;
  content: string;
}

/**
 * Every input memory has stored (of one user, or all), read from memory's own event feed
 * (`follow=false`, paged by seq), which has no history limit and carries the commit-ordered seq.
 */
export async function storedInputs(memoryUrl: string, userId?: string): Promise<StoredInput[]> {
  const out: StoredInput[] = [];
  let after = 0;
  for (;;) {
    const q = new URLSearchParams({ after: String(after), follow: 'false', limit: '10000' });
    if (userId) q.set('user_id', userId);
    const res = await request(`${memoryUrl}/resource/events?${q}`, {
      headers: { accept: 'text/event-stream', ...(await serviceAuth('gateway', 'memory')) },
    });
    if (res.statusCode !== 200)
      throw new Error(`memory feed answered ${res.statusCode}: ${await res.body.text()}`);
    const page: StoredInput[] = [];
    let end: { last_seq?: number } | undefined;
    let error: unknown;
    const parser = createParser({
      onEvent: (m) => {
        const d = JSON.parse(m.data);
        if (d.end === true) end = d;
        // By shape: a task_failed event carries an `error` string and is no failure of the feed.
        else if (inBandError(d)) error = d.error;
        else if (d.type === 'input')
          page.push({ seq: d.seq, id: d.id, user_id: d.user_id, content: d.content });
      },
    });
    for await (const chunk of res.body) parser.feed(chunk.toString());
    if (error !== undefined) throw new Error(`memory feed failed: ${JSON.stringify(error)}`);
    if (!end) throw new Error('memory feed ended without its end marker');
    out.push(...page);
    if (page.length < 10000) return out;
    after = (page.at(-1) as StoredInput).seq;
  }
}

export interface Reconciliation {
  accepted: number;
  stored: number;
  /** Item ids stored more than once. */
  duplicates: number;
  /** Accepted item ids not stored. */
  lost: number;
  /** Stored items whose user or content is not the one that posted them. */
  mismatched: number;
  /** Stored items nobody posted (another test's user, or a bug). */
  unknown: number;
}

/** Accepted answers against what memory holds: the numbers every scenario asserts. */
export function reconcile(
  accepted: Map<string, Answer>,
  stored: StoredInput[],
  users?: Set<string>,
): Reconciliation {
  const seen = new Map<string, number>();
  let mismatched = 0;
  let unknown = 0;
  for (const s of stored) {
    if (users && !users.has(s.user_id)) continue;
    seen.set(s.id, (seen.get(s.id) ?? 0) + 1);
    const a = accepted.get(s.id);
    if (!a) unknown++;
    else if (a.user !== s.user_id || a.content !== s.content) mismatched++;
  }
  let lost = 0;
  for (const id of accepted.keys()) if (!seen.has(id)) lost++;
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  return {
    accepted: accepted.size,
    stored: [...seen.values()].reduce((a, n) => a + n, 0),
    duplicates,
    lost,
    mismatched,
    unknown,
  };
}

/** p-th percentile (0..100) of `values`. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
