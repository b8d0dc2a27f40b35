import { performance } from 'node:perf_hooks';
import { gatewayHealthDetails } from '@cortex/testing';
import type { InputLedger, User } from './ledger';

/** The parts of the configuration that bound how long the system takes to come back. */
export interface RecoveryConfig {
  /** RESILIENCE_MEMORY_BREAKER_MAX_OPEN_MS: the longest an open circuit waits before a probe. */
  breakerMaxOpenMs: number;
  /** The replayer's longest backoff between journal drains (2 s). */
  replayMaxDelayMs?: number;
  /** The gateway's feed follower's longest reconnect backoff (5 s). */
  feedMaxDelayMs?: number;
  /** Time the work itself takes (replaying a journal, restarting a process) on a loaded machine. */
  workMs?: number;
}

/**
 * A generous upper bound on recovery, derived from the configuration rather than measured: two
 * full breaker-plus-replay cycles (a probe may fail once more), one feed reconnect, and the work.
 */
export function recoveryBoundMs(c: RecoveryConfig): number {
  return (
    2 * (c.breakerMaxOpenMs + (c.replayMaxDelayMs ?? 2000)) +
    (c.feedMaxDelayMs ?? 5000) +
    (c.workMs ?? 20_000)
  );
}

/** The e2e System's configuration (see harness/system.ts). */
export const E2E_RECOVERY: RecoveryConfig = { breakerMaxOpenMs: 2000 };

/**
 * Waits until the gateway answers normally again: /health/details `healthy` with memory's circuit closed,
 * the journal drained, and a probe input (counted in the ledger like any other) `received`.
 * Returns the milliseconds it took from the call; fails after `boundMs`.
 */
export async function waitForRecovery(
  gatewayUrl: string,
  options: { boundMs: number; ledger?: InputLedger; probe?: User; what?: string },
): Promise<number> {
  const started = performance.now();
  let last = '';
  while (performance.now() - started < options.boundMs) {
    try {
      const h = await gatewayHealthDetails(gatewayUrl);
      const memory = h.body?.dependencies?.memory;
      const items = h.body?.dependencies?.pending_store?.items;
      last = `health ${h.status} ${h.body?.status}, memory ${memory?.status}/${memory?.circuit}, pending ${items}`;
      if (h.status === 200 && h.body.status === 'healthy' && memory?.circuit === 'closed' && items === 0) {
        if (!options.ledger || !options.probe) return performance.now() - started;
        const a = await options.ledger.post(gatewayUrl, options.probe, { content: `probe ${Date.now()}` });
        last += `, probe ${a.status}`;
        if (a.status === 'received') return performance.now() - started;
      }
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${options.what ?? 'the system'} did not recover within ${options.boundMs} ms (last: ${last})`,
  );
}
