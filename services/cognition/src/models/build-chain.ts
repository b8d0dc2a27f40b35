import type { Clock, Listener, ResilienceEvent } from '@cortex/resilience';
import type { CognitionEnv } from '../env';
import { createBackendPolicy } from './backend-policy';
import { LocalAnalyser } from './local-analyser';
import { type ChainEntry, ModelChain } from './model-chain';
import { OpenAiBackend } from './openai-backend';

export interface ChainDeps {
  clock?: Clock | undefined;
  /** A listener per remote backend, by name, for its calls, breaker and timeouts. */
  eventsFor?: (backend: string) => Listener<ResilienceEvent>;
}

/** MODEL_BACKENDS in order, each behind its own breaker and timeout, then the local analyser. */
export function buildModelChain(env: CognitionEnv, { clock, eventsFor }: ChainDeps = {}): ModelChain {
  const entries: ChainEntry[] = env.MODEL_BACKENDS.map((spec) => {
    const backend = new OpenAiBackend(spec, {
      timeoutMs: env.MODEL_TIMEOUT_MS,
      maxInputChars: env.MODEL_MAX_INPUT_CHARS,
    });
    const policy = createBackendPolicy(
      {
        timeoutMs: env.MODEL_TIMEOUT_MS,
        failureThreshold: env.MODEL_BREAKER_FAILURES,
        openMs: env.MODEL_BREAKER_OPEN_MS,
      },
      { name: spec.name, clock, onEvent: eventsFor?.(spec.name) },
    );
    return { backend, policy, ...(policy.breaker ? { breaker: policy.breaker } : {}) };
  });
  if (env.LOCAL_ANALYSER === 'on') entries.push({ backend: new LocalAnalyser() });
  return new ModelChain(entries, clock ? { clock } : {});
}
