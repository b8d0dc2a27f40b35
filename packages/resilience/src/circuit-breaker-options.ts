import type { CodedError } from '@cortex/errors';
import type { Clock } from './clock';

export interface CircuitBreakerOptions {
  /** The circuit's name (the dependency's): `circuit_open` errors and transition events carry it. */
  name?: string;
  /** 'consecutive' failures (default) or failure 'rate' over a sliding window. */
  mode?: 'consecutive' | 'rate';
  /** consecutive: failures in a row that open the circuit. Default 5. */
  failureThreshold?: number;
  /** rate: failure share (0..1] that opens the circuit. Default 0.5. */
  failureRateThreshold?: number;
  /** rate: calls the window must hold before the rate counts. Default 20. */
  minimumCalls?: number;
  /** rate: window length. Default 10 000 ms, kept in `buckets` (default 10) buckets. */
  windowMs?: number;
  buckets?: number;
  /** First open period. Default 5 000 ms. */
  openMs?: number;
  /** Each failed probe multiplies the open period by this, up to maxOpenMs. Default 2, 60 000 ms. */
  openBackoffFactor?: number;
  maxOpenMs?: number;
  /** Calls let through at once while half-open; the rest are rejected. Default 1. */
  halfOpenMaxProbes?: number;
  /** Successful probes needed to close. Default 1. */
  successThreshold?: number;
  /** A probe unsettled after this long counts as failed and frees its slot. Default 10 000 ms. */
  probeTimeoutMs?: number;
  /** Successful calls slower than this count as failures. Default: off. */
  slowCallMs?: number;
  /** Which (classified) errors count against the dependency. Default `isUpstreamFailure`. */
  isFailure?: (err: CodedError) => boolean;
  clock?: Clock;
}
