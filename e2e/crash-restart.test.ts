import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holderOf } from '@cortex/service-kit';
import { gatewayHealthDetails, serviceSecretsEnv, TEST_SECRET } from '@cortex/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputLedger, makeUsers, reconcile, storedInputs } from './harness/ledger';
import { procState, UserLaunchedService } from './harness/user-launch';
import { waitUntil } from './harness/wait';

// Services started the way the README tells users to (`pnpm --filter ./services/<name> start`),
// under a parent that never reaps its children: a SIGKILLed service stays a zombie, which a lock
// that trusts `kill(pid, 0)` takes for alive.
// Memory runs on its embedded database whatever DATABASE_URL says: its directory lock is part
// of what is tested.
describe('crash and restart the way users run the services', () => {
  const work = mkdtempSync(join(tmpdir(), 'cortex-crash-'));
  const pendingDir = join(work, 'pending');
  const launched: UserLaunchedService[] = [];
  let memory: UserLaunchedService;
  let gateway: UserLaunchedService;
  // Production, with real and distinct secrets, as an operator runs it.
  const common = { LOG_LEVEL: 'info', NODE_ENV: 'production', JWT_SECRET: TEST_SECRET };
  const gatewayEnv = () => ({
    ...common,
    ...serviceSecretsEnv('gateway'),
    PENDING_STORE_DIR: pendingDir,
    MEMORY_SERVICE_URL: memory.url,
    // Cognition is not part of this story: nothing listens there.
    COGNITION_SERVICE_URL: 'http://127.0.0.1:9',
  });
  const launch = (s: UserLaunchedService) => {
    launched.push(s);
    return s;
  };

  beforeAll(async () => {
    memory = launch(
      new UserLaunchedService('memory', {
        ...common,
        ...serviceSecretsEnv('memory'),
        PGLITE_DATA_DIR: join(work, 'pglite'),
      }),
    );
    await memory.start();
    gateway = launch(new UserLaunchedService('gateway', gatewayEnv()));
    await gateway.start();
  });
  afterAll(async () => {
    for (const s of launched) await s.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('SIGKILLed process groups stay zombies, restart on the same port and directory, and every journalled input is stored once', async () => {
    const ledger = new InputLedger();
    const users = await makeUsers('crash', 3);
    const before = await ledger.post(gateway.url, users[0]!);
    expect(before.status).toBe('received');

    const memoryServerPid = memory.serverPid;
    const memoryDeath = await memory.killGroup();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ledger.post(gateway.url, users[i % 3]!)),
    );
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set(['received_storage_pending']));

    const lock = JSON.parse(readFileSync(join(pendingDir, 'LOCK'), 'utf8'));
    expect(lock.pid).toBe(gateway.serverPid);
    const gatewayDeath = await gateway.killGroup();
    console.log(
      `[crash] after SIGKILL of the groups: memory pnpm ${memoryDeath.launcher}, server ${memoryDeath.server}; ` +
        `gateway pnpm ${gatewayDeath.launcher}, server ${gatewayDeath.server} (wrapper subreaper: ${gateway.subreaper})`,
    );
    // The parent never reaps: pnpm stays a zombie, and so does the server when it was re-parented
    // to the wrapper (the subreaper); that zombie still holds the pid the lock names.
    expect(gatewayDeath.launcher).toBe('Z');
    if (gateway.subreaper) {
      expect(gatewayDeath.server).toBe('Z');
      expect(memoryDeath.server).toBe('Z');
      expect(procState(lock.pid)?.state).toBe('Z');
      process.kill(lock.pid, 0); // what fooled the pid-only lock: a zombie takes signals
    }
    expect(JSON.parse(readFileSync(join(pendingDir, 'LOCK'), 'utf8')).pid).toBe(lock.pid);

    const port = gateway.port;
    await gateway.start();
    expect(gateway.port).toBe(port);
    // Memory too, on its embedded database's directory, whose lock a zombie holds as well.
    expect(JSON.parse(readFileSync(join(work, 'pglite', 'LOCK'), 'utf8')).pid).toBe(memoryServerPid);
    await memory.start();
    const stored = await waitUntil(
      'every journalled input stored',
      async () => {
        const s = await storedInputs(memory.url);
        return s.length >= 31 ? s : undefined;
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would show up by now
    const r = reconcile(ledger.accepted(), await storedInputs(memory.url));
    console.log(`[crash] ${JSON.stringify(r)} (${stored.ms} ms after memory restarted)`);
    expect(r).toMatchObject({ accepted: 31, stored: 31, duplicates: 0, lost: 0, mismatched: 0, unknown: 0 });
    const health = await gatewayHealthDetails(gateway.url);
    expect(health.body.dependencies.pending_store.items).toBe(0);
  });

  it('starts over a lock naming a live unrelated process (a reused pid), and refuses a second gateway on its directory', async () => {
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pid = sleeper.pid as number;
      await waitUntil('the sleeper', () => procState(pid));
      await gateway.terminateLauncher();
      // What a gateway that died long ago left, its pid since given to another process.
      const live = holderOf(pid);
      writeFileSync(
        join(pendingDir, 'LOCK'),
        JSON.stringify({ ...live, start: String(Number(live.start) - 100) }),
      );
      await gateway.start();
      expect(JSON.parse(readFileSync(join(pendingDir, 'LOCK'), 'utf8')).pid).toBe(gateway.serverPid);
      expect(procState(pid)?.state).not.toBe('Z'); // the unrelated process is alive and untouched

      const second = launch(new UserLaunchedService('gateway', gatewayEnv()));
      await expect(second.start(60_000)).rejects.toThrow(`is in use by process ${gateway.serverPid}`);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('SIGTERM to pnpm stops the server gracefully; a server whose pnpm is SIGKILLed stops by itself', async () => {
    const ledger = new InputLedger();
    const [user] = await makeUsers('launcher', 1);
    expect((await ledger.post(gateway.url, user!)).status).toBe('received');
    const from = gateway.logs.length;
    await gateway.terminateLauncher();
    const stopping = gateway.logs.slice(from).find((l) => l.includes('shutting down'));
    expect(stopping).toContain('"signal":"SIGTERM"'); // the signal reached the server itself

    await gateway.start();
    const orphanFrom = gateway.logs.length;
    process.kill(gateway.launcherPid, 'SIGKILL'); // only pnpm: the server is orphaned
    const gone = await waitUntil(
      'the orphaned server to stop',
      () => (gateway.serverRunning ? undefined : true),
      15_000,
    );
    console.log(`[crash] orphaned server stopped ${gone.ms} ms after its pnpm was killed`);
    expect(gateway.logs.slice(orphanFrom).some((l) => l.includes('"signal":"parent_exit"'))).toBe(true);
    // Its port and directory are free again.
    await gateway.start();
    expect((await ledger.post(gateway.url, user!)).status).toBe('received');
  });
});
