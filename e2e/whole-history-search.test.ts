import { http, tokenFor } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseModes, System } from './harness/system';

// Issue 13: search used to rank the user's newest 1000 inputs in cognition, so anything older
// could never be found. Memory now searches the whole history in the database.
describe.each(databaseModes())('search over the whole history on %s', (database) => {
  let system: System;
  let gw: string;

  beforeAll(async () => {
    system = await System.start({ database });
    gw = system.gateway.url;
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('finds an input older than the newest 1000, through /search and /context', async () => {
    const token = await tokenFor('search-walk');
    const old = await http('POST', `${gw}/input`, {
      token,
      body: { content: 'The zeppelin manifest lists forty crates of tea.' },
    });
    expect(old.status).toBe(200);
    expect(old.body.status).toBe('received');
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 1000) {
          const n = next++;
          const res = await http('POST', `${gw}/input`, { token, body: { content: `routine note ${n}` } });
          expect(res.body.status).toBe('received');
        }
      }),
    );
    // It is no longer among the newest 1000: the former search window could not see it.
    const newest = await http('GET', `${gw}/history?limit=1000`, { token });
    expect(newest.body.count).toBe(1000);
    expect(newest.body.items.map((i: { id: string }) => i.id)).not.toContain(old.body.item_id);

    const search = await http('GET', `${gw}/search?query=${encodeURIComponent('zeppelin crates')}`, {
      token,
    });
    expect(search.status).toBe(200);
    expect(search.body.error).toBeUndefined();
    expect(search.body.results.map((r: { id: string }) => r.id)).toEqual([old.body.item_id]);
    const context = await http('GET', `${gw}/context?query=zeppelin&limit=5`, { token });
    expect(context.status).toBe(200);
    expect(context.body.context.map((r: { id: string }) => r.id)).toEqual([old.body.item_id]);

    // Another user searching the same words finds nothing of this user's.
    const other = await http('GET', `${gw}/search?query=zeppelin`, { token: await tokenFor('search-other') });
    expect(other.status).toBe(200);
    expect(other.body.results).toEqual([]);
    // Query syntax characters are only text.
    const hostile = await http('GET', `${gw}/search?query=${encodeURIComponent("zeppelin & !(tea:* | '")}`, {
      token,
    });
    expect(hostile.status).toBe(200);
    expect(hostile.body.results.map((r: { id: string }) => r.id)).toEqual([old.body.item_id]);
  });
});
