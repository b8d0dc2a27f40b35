import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Callee,
  craftServiceToken,
  http,
  type JsonResponse,
  SERVICE_SECRETS,
  ServiceProcess,
  serviceAuth,
  serviceSecretsEnv,
  signToken,
  TEST_SECRET,
  tokenFor,
  unsignedServiceToken,
} from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseRecorder } from './harness/sse-client';
import { primaryMode, System } from './harness/system';
import { waitUntil } from './harness/wait';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A 401 or 403 with the contract's error body. */
function expectRefused(res: JsonResponse, status: 401 | 403, what: string) {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.body.error, what).toMatchObject({
    code: status === 401 ? 'unauthorized' : 'forbidden',
    message: expect.any(String),
    request_id: res.headers['x-request-id'],
    timestamp: expect.any(String),
  });
}

/**
 * Starts a service's real server and waits for it to exit: the one-line message it printed, and
 * its exit code (a process that listens instead is killed and reported as such).
 */
async function startRefused(service: 'gateway' | 'memory' | 'cognition', env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=@cortex/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: `${ROOT}/services/${service}`,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => {
    output += c;
    if (output.includes('Server listening')) child.kill('SIGKILL');
  });
  child.stderr.on('data', (c) => {
    output += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output: output.trim() };
}

describe('service authentication between gateway, memory and cognition', () => {
  let system: System;
  let memory: string;
  let cognition: string;
  let gw: string;

  beforeAll(async () => {
    system = await System.start({ database: primaryMode() });
    memory = system.memory.url;
    cognition = system.cognition.url;
    gw = system.gateway.url;
  });
  afterAll(async () => {
    await system?.stop();
  });

  // One tool call and one resource of each callee, as a caller would make them.
  const targets = (service: Callee) =>
    service === 'memory'
      ? [
          { method: 'POST', path: '/tool/get_message', body: { arguments: { message_id: 'x' } } },
          { method: 'GET', path: '/resource/history/bob' },
          { method: 'GET', path: '/resource/events?after=0&follow=false' },
        ]
      : [
          {
            method: 'POST',
            path: '/tool/search_history',
            body: { arguments: { user_id: 'bob', query: 'x', limit: 5 } },
          },
        ];

  it('refuses every bad credential with 401 and the error body, on memory and on cognition', async () => {
    for (const service of ['memory', 'cognition'] as const) {
      const base = service === 'memory' ? memory : cognition;
      const sub = 'gateway';
      const refused: Record<string, string | undefined> = {
        'no token': undefined,
        'a user token (JWT_SECRET)': `Bearer ${await tokenFor('bob')}`,
        'a user token naming the gateway': `Bearer ${await signToken({ sub, aud: service }, { secret: TEST_SECRET, expiresIn: '5m' })}`,
        'a wrong secret': `Bearer ${await craftServiceToken({ sub, aud: service }, 'not-the-gateway-secret-0123456789abcdef')}`,
        "cognition's secret for the gateway": `Bearer ${await craftServiceToken({ sub, aud: service }, SERVICE_SECRETS.cognition)}`,
        'a wrong audience': `Bearer ${await craftServiceToken({ sub, aud: service === 'memory' ? 'cognition' : 'memory' })}`,
        expired: `Bearer ${await craftServiceToken({ sub, aud: service, iatOffsetS: -400, lifetimeS: 300 })}`,
        'a lifetime over 5 minutes': `Bearer ${await craftServiceToken({ sub, aud: service, lifetimeS: 301 })}`,
        'exp of 1e300': `Bearer ${await craftServiceToken({ sub, aud: service, lifetimeS: 1e300 })}`,
        'alg none': `Bearer ${unsignedServiceToken(sub, service)}`,
        malformed: 'Bearer not.a.token',
        'not bearer': `Basic ${Buffer.from('gateway:secret').toString('base64')}`,
      };
      for (const target of targets(service)) {
        for (const [what, authorization] of Object.entries(refused)) {
          const res = await http(target.method, `${base}${target.path}`, {
            headers: authorization ? { authorization } : {},
            body: target.body,
          });
          expectRefused(res, 401, `${service} ${target.path} with ${what}`);
        }
      }
    }
    // Cognition is not a caller of cognition: even its own valid token is refused there.
    const own = await http('POST', `${cognition}/tool/get_context`, {
      headers: await serviceAuth('cognition', 'cognition'),
      body: { arguments: { user_id: 'bob' } },
    });
    expectRefused(own, 401, 'cognition calling cognition');
  });

  it('leaves /health and /metrics open', async () => {
    for (const base of [memory, cognition]) {
      expect((await http('GET', `${base}/health`)).status).toBe(200);
      expect((await http('GET', `${base}/metrics`)).status).toBe(200);
    }
  });

  it('lets cognition only read and record failed tasks on memory: every other tool and the events feed are 403', async () => {
    const bob = await tokenFor('bob-auth');
    const posted = await http('POST', `${gw}/input`, {
      token: bob,
      body: { content: "bob's note", conversation_id: 'cb' },
    });
    expect(posted.body.status).toBe('received');
    const id = posted.body.item_id as string;
    const asCognition = await serviceAuth('cognition', 'memory');
    const tool = (name: string, args: Record<string, unknown>) =>
      http('POST', `${memory}/tool/${name}`, { headers: asCognition, body: { arguments: args } });

    const forbidden = {
      store_input: { user_id: 'bob-auth', input_data: { content: 'forged by cognition' } },
      store_inputs: { items: [{ user_id: 'bob-auth', input_data: { content: 'forged' } }] },
      update_message: { user_id: 'bob-auth', message_id: id, updates: { content: 'altered' } },
      delete_message: { user_id: 'bob-auth', message_id: id },
    };
    for (const [name, args] of Object.entries(forbidden)) expectRefused(await tool(name, args), 403, name);
    for (const path of ['/resource/events', '/resource/events?after=0&follow=false', '/tools']) {
      expectRefused(await http('GET', `${memory}${path}`, { headers: asCognition }), 403, path);
    }

    // What it may do, it can; and bob's note is as he wrote it.
    const got = await tool('get_message', { message_id: id, user_id: 'bob-auth' });
    expect(got.status).toBe(200);
    expect(got.body.result.message.content).toBe("bob's note");
    for (const path of ['/resource/history/bob-auth', '/resource/conversation/cb']) {
      const res = await http('GET', `${memory}${path}`, {
        headers: { ...asCognition, accept: 'text/event-stream' },
      });
      expect(res.status, path).toBe(200);
      expect(String(res.body)).toContain("bob's note");
    }
    const recorded = await tool('record_failed_task', {
      user_id: 'bob-auth',
      task: 'analyze_conversation',
      error: 'all_backends_failed',
      duration_ms: 5,
    });
    expect(recorded.status).toBe(200);

    // The gateway may use everything.
    const asGateway = await serviceAuth('gateway', 'memory');
    const feed = await http('GET', `${memory}/resource/events?after=0&follow=false&user_id=bob-auth`, {
      headers: { ...asGateway, accept: 'text/event-stream' },
    });
    expect(feed.status).toBe(200);
    expect(String(feed.body)).toContain("bob's note");
  });

  it('works end to end with real secrets: input stored, streamed, read back, searched through cognition', async () => {
    const carol = await tokenFor('carol-auth');
    const stream = await SseRecorder.open(`${gw}/output/stream?token=${carol}`);
    await stream.waitFor((e) => e.some((x) => x.data.type === 'connection_established'));
    const posted = await http('POST', `${gw}/input`, {
      token: carol,
      body: { content: 'the quarterly migration plan', conversation_id: 'cc' },
    });
    expect(posted.body.status).toBe('received');
    // The gateway's feed subscription to memory (signed) delivered it.
    await stream.waitFor((e) => e.some((x) => x.data.type === 'input'), 15_000, 'the input event');
    stream.close();
    const history = await http('GET', `${gw}/history`, { token: carol });
    expect(history.body.items.map((i: { content: string }) => i.content)).toEqual([
      'the quarterly migration plan',
    ]);
    // Gateway → cognition → memory, each hop with its own caller's token.
    const context = await http('GET', `${gw}/context?query=migration`, { token: carol });
    expect(context.status).toBe(200);
    expect(context.body.error).toBeUndefined();
    expect(context.body.context.map((c: { content: string }) => c.content)).toContain(
      'the quarterly migration plan',
    );
  });

  it('a gateway with the wrong service secret is refused by memory, and its clients see a degraded answer, never a 401', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auth-wrong-secret-'));
    const wrong = new ServiceProcess('gateway', {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_SECRET,
      GATEWAY_SERVICE_SECRET: 'a-gateway-secret-memory-does-not-know-0123',
      MEMORY_SERVICE_URL: memory,
      COGNITION_SERVICE_URL: cognition,
      PENDING_STORE_DIR: dir,
    });
    try {
      await wrong.start();
      const dave = await tokenFor('dave-auth');
      // Accepted and journalled: once the secrets agree again, it is stored.
      const posted = await http('POST', `${wrong.url}/input`, { token: dave, body: { content: 'held' } });
      expect(posted.status).toBe(200);
      expect(posted.body.status).toBe('received_storage_pending');
      // Memory's refusal is the gateway's own misconfiguration (a bad gateway, never the user's
      // 401): reads degrade to the fallback, which shows the journalled input as pending.
      const history = await http('GET', `${wrong.url}/history`, { token: dave });
      expect(history.status).toBe(200);
      expect(history.body).toMatchObject({
        fallback: true,
        items: [expect.objectContaining({ id: posted.body.item_id, pending: true })],
      });
      await waitUntil('memory logged the refusal', () =>
        system.memory.logs.some((l) => l.includes('"code":"unauthorized"')) ? true : undefined,
      );
    } finally {
      await wrong.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Each case is a process that stops at once: run a few side by side.
describe.concurrent('production refuses to start with unsafe secrets', () => {
  const strong = {
    JWT_SECRET: TEST_SECRET,
    GATEWAY_SERVICE_SECRET: SERVICE_SECRETS.gateway,
    COGNITION_SERVICE_SECRET: SERVICE_SECRETS.cognition,
  };
  const weak = 'hunter2-weak-secret';
  const cases: [string, 'gateway' | 'memory' | 'cognition', Record<string, string>, string, string[]][] = [
    [
      'memory without the gateway secret',
      'memory',
      { COGNITION_SERVICE_SECRET: strong.COGNITION_SERVICE_SECRET },
      'GATEWAY_SERVICE_SECRET',
      [],
    ],
    [
      'cognition without its own secret',
      'cognition',
      { GATEWAY_SERVICE_SECRET: strong.GATEWAY_SERVICE_SECRET },
      'COGNITION_SERVICE_SECRET',
      [],
    ],
    [
      'the gateway with a weak service secret',
      'gateway',
      { JWT_SECRET: strong.JWT_SECRET, GATEWAY_SERVICE_SECRET: weak },
      'GATEWAY_SERVICE_SECRET',
      [weak],
    ],
    [
      'the gateway with a weak JWT_SECRET',
      'gateway',
      { JWT_SECRET: weak, GATEWAY_SERVICE_SECRET: strong.GATEWAY_SERVICE_SECRET },
      'JWT_SECRET',
      [weak],
    ],
    [
      'the gateway with its service secret equal to JWT_SECRET',
      'gateway',
      { JWT_SECRET: strong.JWT_SECRET, GATEWAY_SERVICE_SECRET: strong.JWT_SECRET },
      'SECRET',
      [strong.JWT_SECRET],
    ],
    [
      'memory with both service secrets equal',
      'memory',
      {
        GATEWAY_SERVICE_SECRET: strong.GATEWAY_SERVICE_SECRET,
        COGNITION_SERVICE_SECRET: strong.GATEWAY_SERVICE_SECRET,
      },
      'SERVICE_SECRET',
      [strong.GATEWAY_SERVICE_SECRET],
    ],
  ];

  it.for(cases)('%s', async ([, service, env, variable, values], { expect }) => {
    const { code, output } = await startRefused(service, { NODE_ENV: 'production', ...env });
    expect(code, output).toBe(1);
    const lines = output.split('\n');
    expect(lines, output).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^invalid environment variable \\w*${variable}`));
    for (const v of values) expect(output).not.toContain(v);
  });

  it('reads NODE_ENV strictly: "prod" and "Production" never run with development secrets', async ({
    expect,
  }) => {
    const prod = await startRefused('memory', { NODE_ENV: 'prod', ...serviceSecretsEnv('memory') });
    expect(prod.code, prod.output).toBe(1);
    expect(prod.output).toMatch(/^invalid environment variable NODE_ENV \("prod"\)/);
    // "Production" is production: without secrets, it stops rather than use the built-in ones.
    const capital = await startRefused('cognition', { NODE_ENV: 'Production' });
    expect(capital.code, capital.output).toBe(1);
    expect(capital.output).toMatch(/SERVICE_SECRET .*required in production/);
  });
});
