/**
 * Test support: the three services built by their own builders, as deployed but never listening:
 * memory on PostgreSQL at a port nothing answers (it starts anyway and retries in the
 * background), the gateway and cognition with their upstreams there too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCognitionApp } from '../services/cognition/src/app';
import { loadCognitionEnv } from '../services/cognition/src/env';
import { buildGatewayApp } from '../services/gateway/src/app';
import { loadGatewayEnv } from '../services/gateway/src/env';
import { buildMemoryApp } from '../services/memory/src/app';
import { loadMemoryEnv } from '../services/memory/src/env';

type LiveApp = Awaited<ReturnType<typeof buildGatewayApp>>;
export interface LiveApps {
  gateway: LiveApp;
  memory: LiveApp;
  cognition: LiveApp;
}
export type OpenLiveApps = LiveApps & { close(): Promise<void> };

/** No service listens here: upstream calls fail fast, which is all these checks need. */
const NOWHERE = 'http://127.0.0.1:9';

export async function openLiveApps(): Promise<OpenLiveApps> {
  const dir = mkdtempSync(join(tmpdir(), 'live-apps-'));
  const built: LiveApp[] = [];
  const close = async () => {
    for (const app of built.splice(0)) await app.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const gateway = await buildGatewayApp({
      env: loadGatewayEnv({
        LOG_LEVEL: 'silent',
        MEMORY_SERVICE_URL: NOWHERE,
        COGNITION_SERVICE_URL: NOWHERE,
        PENDING_STORE_DIR: dir,
      }),
      defaultMetrics: true,
    });
    built.push(gateway);
    const memory = await buildMemoryApp({
      env: loadMemoryEnv({ LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://cortex@127.0.0.1:9/cortex' }),
      defaultMetrics: true,
    });
    built.push(memory);
    const cognition = await buildCognitionApp({
      env: loadCognitionEnv({ LOG_LEVEL: 'silent', MEMORY_SERVICE_URL: NOWHERE }),
      defaultMetrics: true,
    });
    built.push(cognition);
    return { gateway, memory, cognition, close };
  } catch (err) {
    await close();
    throw err;
  }
}
