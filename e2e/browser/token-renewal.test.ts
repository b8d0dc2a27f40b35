import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { System } from '../harness/system';
import { demoAuthUsers } from '../harness/users';
import { type Chromium, launchChromium } from './chromium';

const TOKEN_TTL_S = 8;

const tokenOf = (url: string) => new URL(url).searchParams.get('token') ?? '';
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number; iat: number };

// The gateway ends a stream when the token that opened it expires. The console must carry on by
// itself: renew its token before expiry, reopen the stream with the fresh one, and resume from
// its last event id, without signing the user out or repeating an event.
describe('browser console across token expiry', () => {
  let system: System;
  let chromium: Chromium;
  let page: Page;
  const pageProblems: string[] = [];
  const streamUrls: string[] = [];

  const byTest = (id: string) => page.getByTestId(id);
  const attribute = (locator: Locator, name: string, timeout = 15_000) =>
    expect.poll(() => locator.getAttribute(name, { timeout: 1000 }).catch(() => null), {
      timeout,
      interval: 100,
    });

  async function send(content: string) {
    await byTest('input-content').fill(content);
    await byTest('input-submit').click();
    const status = byTest('input-status');
    await attribute(status, 'data-status').not.toBe('sending');
    return (await status.getAttribute('data-item-id')) ?? '';
  }

  beforeAll(async () => {
    system = await System.start({
      database: 'pglite',
      env: {
        gateway: {
          // The harness runs production, which has no demo users: the one the page signs in as.
          AUTH_USERS: await demoAuthUsers(),
          TOKEN_TTL_S: String(TOKEN_TTL_S),
          SSE_HEARTBEAT_MS: '600000',
        },
      },
    });
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageProblems.push(`page error: ${err.message}`));
    page.on('request', (req) => {
      if (req.url().includes('/output/stream')) streamUrls.push(req.url());
    });
  });

  afterAll(async () => {
    await chromium?.close();
    await system?.stop();
  });

  it('renews its token, reopens the stream when the first token expires, and resumes', async () => {
    await page.goto(`${system.gateway.url}/`);
    await byTest('username').fill('demo');
    await byTest('password').fill('demo');
    await byTest('sign-in-submit').click();
    await attribute(byTest('stream-state'), 'data-state').toBe('live');
    const firstToken = tokenOf(streamUrls[0] ?? '');
    const first = claimsOf(firstToken);
    expect(first.exp - first.iat).toBe(TOKEN_TTL_S);

    const before = await send('before the first token expires');
    await expect.poll(() => byTest('event').count()).toBe(1);

    // The stream opened with the first token ends at its expiry; the console reopens it with a
    // renewed token, resuming from the event it last saw.
    await expect
      .poll(() => streamUrls.filter((u) => tokenOf(u) !== firstToken).length, {
        timeout: 30_000,
        interval: 200,
      })
      .toBeGreaterThan(0);
    const reopened = new URL(streamUrls.find((u) => tokenOf(u) !== firstToken) ?? '');
    expect(claimsOf(reopened.searchParams.get('token') ?? '').exp).toBeGreaterThan(first.exp);
    expect(reopened.searchParams.get('last_event_id')).toMatch(/^\d+$/);
    expect(Date.now()).toBeGreaterThanOrEqual(first.exp * 1000 - 1000);
    await attribute(byTest('stream-state'), 'data-state').toBe('live');
    expect(await byTest('workspace').isVisible()).toBe(true);

    const after = await send('after the first token expired');
    await expect.poll(() => byTest('event').count()).toBe(2);
    const ids = await Promise.all((await byTest('event').all()).map((e) => e.getAttribute('data-item-id')));
    expect(ids.sort()).toEqual([before, after].sort());
    expect(pageProblems).toEqual([]);
  });
});
