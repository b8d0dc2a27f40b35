import { http } from '@cortex/testing';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from '../harness/system';
import { demoAuthUsers } from '../harness/users';
import { artifactPath, type Chromium, launchChromium } from './chromium';

const MEMORY_START_MS = 80_000;

// The console in a real browser against the real three processes: sign in, send, watch the
// stream, lose memory and get it back, reload, and never see an event twice.
describe('browser console', () => {
  let system: System;
  let chromium: Chromium;
  let page: Page;
  /** Uncaught script errors and Content-Security-Policy refusals: none are acceptable. */
  const pageProblems: string[] = [];
  const streamUrls: string[] = [];
  let firstId = '';
  let pendingId = '';

  const byTest = (id: string) => page.getByTestId(id);
  const eventFor = (itemId: string) => page.locator(`[data-testid="event"][data-item-id="${itemId}"]`);
  const shot = (step: string) => page.screenshot({ path: artifactPath(step), fullPage: true });
  const attribute = (locator: Locator, name: string, timeout = 15_000) =>
    expect.poll(() => locator.getAttribute(name, { timeout: 1000 }).catch(() => null), {
      timeout,
      interval: 100,
    });

  async function renderedIds() {
    const ids: string[] = [];
    for (const event of await byTest('event').all())
      ids.push((await event.getAttribute('data-item-id')) ?? '');
    return ids;
  }

  async function send(content: string) {
    await byTest('input-content').fill(content);
    await byTest('input-submit').click();
    const status = byTest('input-status');
    await attribute(status, 'data-status').not.toBe('sending');
    return {
      status: await status.getAttribute('data-status'),
      itemId: (await status.getAttribute('data-item-id')) ?? '',
    };
  }

  beforeAll(async () => {
    // Memory (embedded PostgreSQL) is started here, not by the harness, to allow a slow, busy machine
    // more than the harness's 30 s for it.
    system = await System.start({
      database: 'pglite',
      startMemory: false,
      env: {
        // Short breaker settings so the memory circuit opens, and closes again, within seconds.
        gateway: {
          // The harness runs production, which has no demo users: the one the page signs in as.
          AUTH_USERS: await demoAuthUsers(),
          RESILIENCE_MEMORY_BREAKER_FAILURE_THRESHOLD: '2',
          RESILIENCE_MEMORY_BREAKER_OPEN_MS: '500',
          RESILIENCE_MEMORY_BREAKER_MAX_OPEN_MS: '1500',
          RESILIENCE_MEMORY_TIMEOUT_MS: '2000',
          // No heartbeats during the test: they would move the resume position the reload step checks.
          SSE_HEARTBEAT_MS: '600000',
        },
      },
    });
    await system.memory.start(MEMORY_START_MS);
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (/content security policy|refused to/i.test(msg.text())) pageProblems.push(`console: ${msg.text()}`);
    });
    page.on('request', (req) => {
      if (req.url().includes('/output/stream')) streamUrls.push(req.url());
    });
  });

  afterAll(async () => {
    await chromium?.close();
    await system?.stop();
  });

  it('serves the page and its assets under a same-origin Content-Security-Policy', async () => {
    const index = await http('GET', `${system.gateway.url}/`);
    expect(index.status, 'GET / must serve the console: is consoleRoutes registered in app.ts?').toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.body).toContain('/console/console.js');
    const script = await http('GET', `${system.gateway.url}/console/console.js`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    const missing = await http('GET', `${system.gateway.url}/console/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    // The JSON API keeps its own headers: the page's policy is scoped to the page.
    const health = await http('GET', `${system.gateway.url}/health`);
    expect(health.headers['content-security-policy']).toBeUndefined();
  });

  it('signs in, showing a readable error for a wrong password first', async () => {
    await page.goto(`${system.gateway.url}/`);
    await byTest('username').fill('demo');
    await byTest('password').fill('wrong');
    await byTest('sign-in-submit').click();
    await expect.poll(() => byTest('sign-in-error').textContent()).toContain('unauthorized');
    expect(await byTest('sign-in-error').textContent()).toContain('Unknown user or wrong password');
    await shot('01-sign-in-error');

    await byTest('password').fill('demo');
    await byTest('sign-in-submit').click();
    await byTest('workspace').waitFor({ state: 'visible' });
    expect(await byTest('user-id').textContent()).toBe('demo-user');
    await attribute(byTest('stream-state'), 'data-state').toBe('live');
    await attribute(byTest('health-memory'), 'data-status').toBe('healthy');
    await attribute(byTest('health-overall'), 'data-status').toBe('healthy');
    await shot('02-signed-in');
  });

  it('posts an input and sees it, stored, in the live stream', async () => {
    const sent = await send('hello from the browser');
    expect(sent.status).toBe('received');
    firstId = sent.itemId;
    expect(firstId).not.toBe('');
    await expect.poll(() => eventFor(firstId).count()).toBe(1);
    expect(await eventFor(firstId).getAttribute('data-state')).toBe('stored');
    expect(await eventFor(firstId).textContent()).toContain('hello from the browser');
    expect(await byTest('input-content').inputValue()).toBe('');
    await shot('03-posted');
  });

  it('with memory stopped: the input is held ("stored later") and the panel shows memory down', async () => {
    expect(await system.memory.stop()).toBe(0);
    await attribute(byTest('health-memory'), 'data-status').toBe('unhealthy');
    const sent = await send('sent while memory is away');
    expect(sent.status).toBe('received_storage_pending');
    pendingId = sent.itemId;
    expect(await byTest('input-status').textContent()).toContain('Stored later');
    await expect.poll(() => eventFor(pendingId).count()).toBe(1);
    expect(await eventFor(pendingId).getAttribute('data-state')).toBe('pending');
    await attribute(byTest('health-pending'), 'data-items').toBe('1');
    // The panel shows memory's circuit open, as the gateway's /health reports it.
    await attribute(byTest('health-memory'), 'data-circuit').toBe('open');
    expect(await byTest('memory-circuit').isVisible()).toBe(true);
    expect(await byTest('health-overall').getAttribute('data-status')).toBe('warning');
    expect(await byTest('stream-state').getAttribute('data-state')).toBe('live');
    await shot('04-memory-down');
  });

  it('with memory back: healthy again, the held input stored, shown once', async () => {
    await system.memory.start(MEMORY_START_MS);
    await attribute(byTest('health-memory'), 'data-status', 30_000).toBe('healthy');
    await attribute(byTest('health-pending'), 'data-items', 30_000).toBe('0');
    await attribute(eventFor(pendingId), 'data-state', 30_000).toBe('stored');
    await attribute(byTest('health-memory'), 'data-circuit', 30_000).toBe('closed');
    // The stored copy reaches the stream too; it must not show up as a second event.
    const ids = await renderedIds();
    expect(ids.filter((id) => id === pendingId)).toHaveLength(1);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([firstId, pendingId].sort());
    await shot('05-recovered');
  });

  it('after a reload, resumes from the last event id and shows every event exactly once', async () => {
    const before = (await renderedIds()).sort();
    streamUrls.length = 0;
    await page.reload();
    await byTest('workspace').waitFor({ state: 'visible' });
    await attribute(byTest('stream-state'), 'data-state').toBe('live');
    const resumed = new URL(streamUrls.at(-1) ?? 'http://x/');
    expect(resumed.searchParams.get('last_event_id')).toMatch(/^\d+$/);
    // Give the replay of missed events time to arrive before counting.
    await page.waitForTimeout(1500);
    const after = await renderedIds();
    expect(after.sort()).toEqual(before);
    // The page had seen the held input only while pending, so the replay re-sent its stored copy:
    // the resume position moved on, yet the event was not rendered twice (de-duplicated by item id).
    const position = await page.evaluate("sessionStorage.getItem('cortex.lastEventId')");
    expect(Number(position)).toBeGreaterThan(Number(resumed.searchParams.get('last_event_id')));
    expect(await eventFor(pendingId).getAttribute('data-state')).toBe('stored');

    const sent = await send('after the reload');
    expect(sent.status).toBe('received');
    await expect.poll(() => eventFor(sent.itemId).count()).toBe(1);
    const ids = await renderedIds();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(3);
    await shot('06-reloaded');
  });

  it('shows the stream reconnecting while the gateway restarts, then live again without repeats', async () => {
    const before = (await renderedIds()).sort();
    expect(await system.gateway.stop()).toBe(0);
    await attribute(byTest('stream-state'), 'data-state').toBe('reconnecting');
    await attribute(byTest('health-overall'), 'data-status').toBe('unreachable');
    await shot('07-gateway-down');
    await system.gateway.start(MEMORY_START_MS);
    await attribute(byTest('stream-state'), 'data-state', 30_000).toBe('live');
    await attribute(byTest('health-overall'), 'data-status', 30_000).toBe('healthy');
    await page.waitForTimeout(1000);
    expect((await renderedIds()).sort()).toEqual(before);
  });

  it('raised no script errors and no Content-Security-Policy refusals', () => {
    expect(pageProblems).toEqual([]);
  });
});
