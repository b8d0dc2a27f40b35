import type { AttemptContext, Clock } from '@cortex/resilience';
import { annotateSpan, SpanKind, tracingOn, withSpan } from '@cortex/telemetry';

/**
 * One span per call to a service (`memory tool store_input`) or a model backend (cognition's
 * `openai-1 model summary`), around everything the policy does for it: its attempts, their waits
 * and the breaker's verdict. With tracing off, `fn` is called as it is.
 */
export function traceCall<T>(
  upstream: string,
  kind: 'tool' | 'stream' | 'model',
  operation: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingOn()) return fn();
  const attributes = {
    'cortex.upstream': upstream,
    'cortex.call.kind': kind,
    'cortex.call.operation': operation,
  };
  return withSpan(`${upstream} ${kind} ${operation}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const result = await fn();
    span?.setAttribute('cortex.outcome', 'ok');
    return result;
  });
}

/**
 * Wraps a policy's attempt function so each attempt is a span of its own, child of the call's,
 * with the retry number (0 = first try), the circuit's state as the attempt starts, the time left
 * before the attempt's deadline and its outcome (`ok` or the error's code). The W3C trace context
 * the attempt sends names this span. With tracing off, `fn` itself is returned.
 */
export function traceAttempts<T>(
  upstream: string,
  circuit: () => string | undefined,
  clock: Clock,
  fn: (ctx: AttemptContext) => Promise<T>,
): (ctx: AttemptContext) => Promise<T> {
  if (!tracingOn()) return fn;
  let retry = 0;
  return (ctx) => {
    const attributes: Record<string, string | number> = {
      'cortex.upstream': upstream,
      'cortex.retry': retry++,
    };
    const state = circuit();
    if (state !== undefined) attributes['cortex.circuit.state'] = state;
    if (ctx.deadline !== undefined)
      // The deadline is on the policy's (monotonic) clock, not the wall clock.
      attributes['cortex.deadline_left_ms'] = Math.max(0, ctx.deadline - clock.now());
    return withSpan(`${upstream} attempt`, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
      const result = await fn(ctx);
      span?.setAttribute('cortex.outcome', 'ok');
      return result;
    });
  };
}

/** Names the instance an attempt went to, on the attempt's span. */
export function traceInstance(origin: string) {
  if (tracingOn()) annotateSpan({ 'server.address': origin });
}
