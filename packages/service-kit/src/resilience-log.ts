import { currentCallScope, type Listener, type ResilienceEvent } from '@cortex/resilience';
import type { FastifyBaseLogger } from 'fastify';
import { LogLimiter, type LogLimiterOptions } from './log-limiter';

type Level = 'info' | 'warn' | 'error';

/**
 * The resilience layer's events as structured log lines, one upstream's: each retry (attempt,
 * delay, error code), each circuit transition (circuit, from, to, failures), each failed tool
 * call or stream (tool or resource, elapsed ms, error type), each fallback used, and each
 * background loop's retry and recovery (loop, attempt, delay, error code). Every line
 * carries `upstream` and the `request_id` of the call that caused it (null for background work).
 * Rate-limited per upstream, event and error code (or target state): an outage under load logs a bounded number of
 * lines, and one summary line per key and window tells how many were left out.
 */
export function resilienceLog(
  log: FastifyBaseLogger,
  upstream: string,
  options: LogLimiterOptions & { limiter?: LogLimiter } = {},
): Listener<ResilienceEvent> {
  const limiter =
    options.limiter ??
    new LogLimiter((key, suppressed, windowMs) => {
      log.warn(
        { upstream, event: key.split('|')[1], key, suppressed, window_ms: windowMs },
        'resilience log lines suppressed',
      );
    }, options);
  const write = (level: Level, key: string, fields: Record<string, unknown>, message: string) => {
    if (!limiter.allow(`${upstream}|${key}`)) return;
    const scope = currentCallScope();
    log[level](
      { upstream, request_id: scope?.requestId ?? null, event: key.split('|')[0], ...fields },
      message,
    );
  };
  return (e) => {
    switch (e.type) {
      case 'retry': {
        const scope = currentCallScope();
        write(
          'warn',
          `retry|${e.reason}`,
          {
            operation: scope?.operation ?? null,
            attempt: e.attempt,
            delay_ms: e.delayMs,
            error_code: e.reason,
          },
          `retrying ${upstream} call`,
        );
        return;
      }
      case 'breaker_open':
        write(
          'error',
          'circuit_transition|open',
          { circuit: e.circuit, from: e.from, to: 'open', failures: e.failures, open_ms: e.openMs },
          `circuit ${e.circuit} opened`,
        );
        return;
      case 'breaker_half_open':
        write(
          'info',
          'circuit_transition|half_open',
          { circuit: e.circuit, from: e.from, to: 'half_open', failures: 0 },
          `circuit ${e.circuit} half-open`,
        );
        return;
      case 'breaker_close':
        write(
          'info',
          'circuit_transition|closed',
          { circuit: e.circuit, from: e.from, to: 'closed', failures: 0 },
          `circuit ${e.circuit} closed`,
        );
        return;
      case 'call': {
        // A caller's own abort (a client that left) is not the upstream failing.
        if (e.outcome === 'success' || e.code === 'aborted') return;
        const scope = currentCallScope();
        const stream = scope?.kind === 'stream';
        write(
          'warn',
          `${stream ? 'stream_failed' : 'tool_failed'}|${e.code ?? 'unknown'}`,
          {
            service: upstream,
            [stream ? 'resource' : 'tool']: scope?.operation ?? null,
            elapsed_ms: Math.round(e.durationMs),
            error_type: e.code ?? 'unknown',
          },
          stream ? `${upstream} stream failed` : `${upstream} tool call failed`,
        );
        return;
      }
      case 'fallback':
        write(
          'warn',
          `fallback|${e.code}`,
          { source: e.source, error_code: e.code },
          `${upstream} unavailable: answered with a fallback`,
        );
        return;
      case 'background_retry':
        write(
          'warn',
          `background_retry|${e.loop}|${e.code}`,
          { loop: e.loop, attempt: e.attempt, delay_ms: e.delayMs, error_code: e.code },
          `${upstream} background work (${e.loop}) failed; retrying`,
        );
        return;
      case 'background_recovered':
        write(
          'info',
          `background_recovered|${e.loop}`,
          { loop: e.loop, failures: e.failures },
          `${upstream} background work (${e.loop}) recovered`,
        );
        return;
      default:
        return;
    }
  };
}
